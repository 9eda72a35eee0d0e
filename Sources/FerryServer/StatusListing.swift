import FTPCore
import FerryReactor
import Glibc

/// STAT of a directory, whose listing comes over the control connection inside a 213 reply: its
/// lines are rendered on a worker thread a batch at a time, so a huge folder neither holds up the
/// loop nor piles up in memory; the owner asks for the next batch as the client reads.
final class StatusListing {
    private let listing: any DirectoryListing
    /// The reply line that ends the listing.
    let closing: Reply
    private var fetching = false
    /// Dates are relative to when the listing began.
    private let now = Int64(time(nil))

    init(listing: any DirectoryListing, closing: Reply) {
        self.listing = listing
        self.closing = closing
    }

    /// Render the next batch off the loop, unless one is on its way; `then` gets its lines on the
    /// loop, an empty string at the end.
    func fetchNext(on loop: any Scheduler, then: @escaping (String) -> Void) {
        guard !fetching else { return }
        fetching = true
        let (listing, now) = (self.listing, self.now)
        loop.offload({
            listing.next(256).map { Reply.middleLine(ListingFormatter.longLine($0, now: now)) }.joined()
        }) { [weak self] lines in
            self?.fetching = false
            then(lines)
        }
    }
}
