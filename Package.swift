// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Ferry",
    products: [
        .executable(name: "ferry", targets: ["ferry"]),
        .executable(name: "ftpbench", targets: ["ftpbench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibevent",
            path: "CLibevent",
            pkgConfig: "libevent_pthreads",
            providers: [.apt(["libevent-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            path: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CLibpq",
            path: "Sources/CLibpq",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .target(
            name: "CFerrySys",
            linkerSettings: [.linkedLibrary("crypt"), .linkedLibrary("z")]
        ),
        .target(name: "FTPCore"),
        .target(name: "FerryReactor", dependencies: ["CLibevent", "COpenSSL", "CFerrySys"]),
        .target(
            name: "FerryServer",
            dependencies: [
                "FTPCore", "FerryReactor", "CFerrySys", "COpenSSL", "CLibpq",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "ferry",
            dependencies: [
                "FerryServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "ftpbench",
            dependencies: [
                "COpenSSL",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "bench/Sources/ftpbench"
        ),
        .testTarget(name: "FTPCoreTests", dependencies: ["FTPCore"]),
        .testTarget(name: "FerryReactorTests", dependencies: ["FerryReactor", "COpenSSL"]),
        .testTarget(name: "FerryServerTests", dependencies: ["FerryServer"]),
        .testTarget(name: "FerryIntegrationTests", dependencies: ["FTPCore"]),
    ]
)
