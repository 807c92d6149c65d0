// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "timbal-connector",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "timbal-connector", targets: ["timbal-connector"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(name: "PostgresClient", dependencies: ["CLibPQ"]),
        .target(name: "SQLiteStore", dependencies: ["CSQLite"]),
        .target(
            name: "ConnectorCore",
            dependencies: [
                "PostgresClient",
                "SQLiteStore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "timbal-connector",
            dependencies: [
                "ConnectorCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "ConnectorCoreTests", dependencies: ["ConnectorCore"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["ConnectorCore", "PostgresClient", "SQLiteStore"]
        ),
    ]
)
