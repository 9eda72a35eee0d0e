import FerryReactor
import Foundation
import Testing

/// A throwaway self-signed server context (EC P-256), as the reactor tests' TLS servers use.
func makeTestTLSContext(kernelOffload: Bool = true) throws -> TLSContext {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-reactor-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let openssl = Process()
    openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    openssl.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                         "-subj", "/CN=test", "-keyout", folder.appendingPathComponent("key.pem").path,
                         "-out", folder.appendingPathComponent("cert.pem").path]
    openssl.standardError = FileHandle.nullDevice
    try openssl.run()
    openssl.waitUntilExit()
    try #require(openssl.terminationStatus == 0)
    return try TLSContext(certificateFile: folder.appendingPathComponent("cert.pem").path,
                          keyFile: folder.appendingPathComponent("key.pem").path, kernelOffload: kernelOffload)
}
