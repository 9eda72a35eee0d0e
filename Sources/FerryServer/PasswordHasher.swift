import CFerrySys

/// crypt(3) through libxcrypt: verification in constant time, and new hashes with its default
/// (strongest) method. Both are slow by design; call them off the event loops.
public enum PasswordHasher {
    public static func verify(_ password: String, hash: String) -> Bool {
        ferry_crypt_verify(password, hash) == 1
    }

    /// A new hash with a fresh salt of the default method.
    public static func hash(_ password: String) -> String? {
        run(password, setting: nil)
    }

    /// A hash with a given setting (method, cost and salt: a hash up to its last `$`).
    public static func hash(_ password: String, setting: String) -> String? {
        run(password, setting: setting)
    }

    private static func run(_ password: String, setting: String?) -> String? {
        var buffer = [CChar](repeating: 0, count: 512)
        let result = setting.map { ferry_crypt_hash(password, $0, &buffer, buffer.count) }
            ?? ferry_crypt_hash(password, nil, &buffer, buffer.count)
        guard result == 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
