/// A user's disk quota as uploads and deletes see it: `DiskQuota` when one node holds the whole
/// count, `SharedQuota` when the nodes of a cluster share it through PostgreSQL.
///
/// An upload takes room before it reads (so it never reads what it may not keep), gives back what it
/// did not use, and settles its charge against the file's real growth when it ends.
protocol Quota: AnyObject, Sendable {
    var limit: UInt64 { get }
    /// Take up to `wanted` bytes for an upload that is about to receive them.
    func take(_ wanted: Int) -> QuotaRoom
    /// Ask for more room after `take` said `refill`. Blocks on the network: worker threads only.
    func refill(_ wanted: Int) -> QuotaRefill
    /// Bytes come back: an upload's unused room, or space a delete, truncation or replacement freed.
    func release(_ count: UInt64)
    /// An upload took `charged` bytes while it ran and the file's allocation grew by `grown`: count
    /// the growth instead (even past the limit: the bytes are on disk; the next upload is refused).
    func settle(charged: UInt64, grown: UInt64)
}

/// What `Quota.take` gave.
enum QuotaRoom: Equatable {
    /// This many bytes (at least one) are the upload's.
    case bytes(Int)
    /// None here now: call `refill` off the loop, then take again.
    case refill
    /// The quota is used up.
    case full
}

/// What `Quota.refill` got.
enum QuotaRefill: Equatable {
    case granted
    case full
    /// The shared count cannot be reached (the database is down).
    case unavailable(String)
}
