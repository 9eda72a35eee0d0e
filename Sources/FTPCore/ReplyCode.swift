/// Every reply code Ferry sends, named once (RFC 959 §4.2, RFC 2228, RFC 2428, RFC 3659, RFC 4217).
public enum ReplyCode: Int, Sendable {
    case fileStatusOK = 150
    case commandOK = 200
    case superfluous = 202
    case systemStatus = 211
    case fileStatus = 213
    case help = 214
    case systemType = 215
    case serviceReady = 220
    case closingControl = 221
    case noTransferToAbort = 225
    case transferComplete = 226
    case enteringPassive = 227
    case enteringExtendedPassive = 229
    case loggedIn = 230
    /// RFC 2228: user logged in, authorized by security data exchange (a client certificate).
    case loggedInBySecurityExchange = 232
    case fileActionOK = 250
    case pathCreated = 257
    case needPassword = 331
    case pendingFurtherInformation = 350
    case serviceNotAvailable = 421
    case cannotOpenDataConnection = 425
    /// Requested file action not taken (file busy): try again.
    case fileActionNotTaken = 450
    case connectionClosedTransferAborted = 426
    case actionAbortedLocalError = 451
    case insufficientStorage = 452
    case authOK = 234
    case syntaxError = 500
    case syntaxErrorInArguments = 501
    case notImplemented = 502
    case badSequence = 503
    case notImplementedForParameter = 504
    /// RFC 2428: network protocol not supported; RFC 4217: the data connection's TLS failed.
    case protocolNotSupported = 522
    case dataProtectionRequired = 521
    case notLoggedIn = 530
    case policyDenied = 534
    case protectionLevelNotSupported = 536
    case fileUnavailable = 550
    case exceededStorageAllocation = 552
    case fileNameNotAllowed = 553
    case requestedActionNotTaken = 554
}
