import CLibpq
import Glibc

/// Why a PostgreSQL call failed: libpq's message, the SQLSTATE when the server sent one, and whether
/// the connection itself is gone (then the call may work on a fresh one).
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public let sqlState: String?
    public let connectionLost: Bool

    init(_ description: String, sqlState: String? = nil, connectionLost: Bool = false) {
        self.description = description
        self.sqlState = sqlState
        self.connectionLost = connectionLost
    }
}

/// One libpq connection (blocking), used by one thread at a time: `PostgresPool` lends it to worker
/// threads, never to an event loop (hence `@unchecked Sendable`: it crosses threads, one at a time,
/// through the pool's lock). Statements are prepared once per connection, on first use.
final class PostgresConnection: @unchecked Sendable {
    /// A statement prepared under `name` on each connection that runs it.
    struct Statement: Sendable {
        let name: String
        let sql: String
    }

    private let connection: OpaquePointer
    private var prepared = Set<String>()

    /// Connect with a libpq connection string or `postgresql://` URI.
    init(_ conninfo: String) throws(PostgresError) {
        guard let connection = PQconnectdb(conninfo) else { throw PostgresError("libpq could not allocate a connection", connectionLost: true) }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = PostgresConnection.text(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError("cannot connect to PostgreSQL: \(message)", connectionLost: true)
        }
        self.connection = connection
    }

    deinit { PQfinish(connection) }

    var isBroken: Bool { PQstatus(connection) != CONNECTION_OK }

    /// Run a prepared statement with text parameters (nil is NULL); the rows, each column as text
    /// (nil for NULL).
    func run(_ statement: Statement, _ parameters: [String?] = []) throws(PostgresError) -> [[String?]] {
        if !prepared.contains(statement.name) {
            try check(PQprepare(connection, statement.name, statement.sql, Int32(parameters.count), nil))
            prepared.insert(statement.name)
        }
        let values = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { values.forEach { free($0) } }
        let result = values.map { UnsafePointer($0) }.withUnsafeBufferPointer { pointers in
            PQexecPrepared(connection, statement.name, Int32(parameters.count), pointers.baseAddress, nil, nil, 0)
        }
        return try check(result)
    }

    /// Run `sql` as it is: several statements, no parameters (the schema script). A failure rolls
    /// back the transaction the script opened, so the connection is usable again.
    func execute(_ sql: String) throws(PostgresError) {
        do {
            try check(PQexec(connection, sql))
        } catch {
            PQclear(PQexec(connection, "ROLLBACK"))
            throw error
        }
    }

    /// The rows of a successful result; any other result becomes an error. Frees the result.
    @discardableResult
    private func check(_ result: OpaquePointer?) throws(PostgresError) -> [[String?]] {
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK:
            return []
        case PGRES_TUPLES_OK:
            return (0..<PQntuples(result)).map { row in
                (0..<PQnfields(result)).map { column in
                    PQgetisnull(result, row, column) == 1 ? nil : PostgresConnection.text(PQgetvalue(result, row, column))
                }
            }
        default:
            let message = result.map { PostgresConnection.text(PQresultErrorMessage($0)) } ?? PostgresConnection.text(PQerrorMessage(connection))
            let state = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) }
            throw PostgresError(message.isEmpty ? "PostgreSQL call failed" : message, sqlState: state, connectionLost: isBroken)
        }
    }

    private static func text(_ pointer: UnsafePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) }?.trimmingSuffix("\n") ?? ""
    }
}

extension String {
    /// Without trailing `character`s (libpq ends its messages with a newline).
    func trimmingSuffix(_ character: Character) -> String {
        var text = Substring(self)
        while text.last == character { text = text.dropLast() }
        return String(text)
    }
}
