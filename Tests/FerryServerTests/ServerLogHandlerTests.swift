@testable import FerryServer
import Logging
import Testing

/// The log handler keeps a session's metadata in a small sorted array (memory per idle session):
/// it must still behave as the `Logger.Metadata` dictionary the protocol describes.
@Suite struct ServerLogHandlerTests {
    @Test func metadataKeepsOneEntryPerKeyWhateverTheOrderOfChanges() {
        var handler = ServerLogHandler(label: "ferry", format: .text)
        handler[metadataKey: "user"] = "alice"
        handler[metadataKey: "client"] = "127.0.0.1:5000"
        handler[metadataKey: "zone"] = "b"
        handler[metadataKey: "user"] = "bob"
        #expect(handler.metadata == ["client": "127.0.0.1:5000", "user": "bob", "zone": "b"])
        #expect(handler[metadataKey: "user"] == "bob")
        handler[metadataKey: "user"] = nil
        handler[metadataKey: "absent"] = nil
        #expect(handler[metadataKey: "user"] == nil)
        #expect(handler.metadata == ["client": "127.0.0.1:5000", "zone": "b"])
        // Values are kept as the text the log shows.
        let list = Logger.MetadataValue.array(["1", "x"])
        handler.metadata = ["b": "2", "a": list]
        #expect(handler[metadataKey: "a"] == .string(list.description))
        #expect(handler[metadataKey: "client"] == nil)
        handler[metadataKey: "ab"] = "3"
        #expect(handler.metadata == ["a": .string(list.description), "ab": "3", "b": "2"])
    }
}
