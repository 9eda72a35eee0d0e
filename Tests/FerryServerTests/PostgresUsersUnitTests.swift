@testable import FerryServer
import Foundation
import Testing

/// What of the PostgreSQL user store needs no database: the schema it applies, URLs and their
/// redaction, refused connection strings.
@Suite struct PostgresUsersUnitTests {
    @Test func theEmbeddedSchemaIsContribsSchema() throws {
        let contrib = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("contrib/postgresql/schema.sql")
        #expect(try String(contentsOf: contrib, encoding: .utf8) == PostgresUsers.schema, "edit both, or copy contrib's into PostgresUsers.schema")
    }

    @Test(arguments: [
        ("postgresql://ferry:s3cret@db.example.com:5432/ferry?sslmode=require", "postgresql://ferry:***@db.example.com:5432/ferry?sslmode=require"),
        ("postgres://ferry@db/ferry", "postgres://ferry@db/ferry"),
        ("postgresql://db/ferry", "postgresql://db/ferry"),
        ("postgresql://a:b:c@db/ferry", "postgresql://a:***@db/ferry"),
    ])
    func passwordsAreRedacted(url: String, shown: String) {
        #expect(PostgresUsers.redacted(url) == shown)
    }

    @Test func onlyPostgresURLsNameADatabase() {
        #expect(PostgresUsers.isURL("postgresql://db/ferry") && PostgresUsers.isURL("postgres://db/ferry"))
        #expect(!PostgresUsers.isURL("/etc/ferry/users.txt") && !PostgresUsers.isURL("users.txt"))
    }

    @Test func aMalformedConnectionStringIsRefusedWithLibpqsReasonAndNoPassword() {
        #expect {
            _ = try PostgresUsers(url: "postgresql://ferry:s3cret@db/ferry?nosuchkey=1")
        } throws: { error in
            let text = "\(error)"
            return text.contains("invalid") && text.contains("ferry:***@") && !text.contains("s3cret")
        }
        #expect(throws: PostgresError.self) { _ = try PostgresUsers(url: "postgresql://ferry@db/ferry%zz") }
    }
}
