// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "timbal-connector",
    products: [
        .executable(name: "timbal-connector", targets: ["timbal-connector"]),
        .executable(name: "timbal-devplane", targets: ["timbal-devplane"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.20.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.27.0"),
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
        // Leaf helpers: threads and clocks, SQL identifiers, hashing. No dependencies.
        .target(name: "TimbalSupport"),
        // The KB's rules (modes, merge by key, schema evolution, bookkeeping), one copy for the
        // local KB and the development plane's hosted KBs. No libpq.
        .target(name: "KBRules", dependencies: ["SQLiteStore", "TimbalSupport"]),
        // The platform's model: JSON (exact parser, one field reader), the job spec, checkpoints,
        // pacing, the field error type. No libpq, no SQLite: the channel and the plane use it.
        .target(name: "TimbalModel", dependencies: ["TimbalSupport"]),
        .target(
            name: "ConnectorCore",
            dependencies: [
                "PostgresClient",
                "SQLiteStore",
                "KBRules",
                "TimbalModel",
                "TimbalSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "ChannelProtocol",
            dependencies: ["TimbalModel", "TimbalSupport"]
        ),
        .target(
            name: "ConnectorDaemon",
            dependencies: [
                "ConnectorCore",
                "ChannelProtocol",
                "PostgresClient",
                "SQLiteStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "DevPlane",
            dependencies: [
                "TimbalModel",
                "TimbalSupport",
                "KBRules",
                "ChannelProtocol",
                "SQLiteStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "timbal-devplane",
            dependencies: [
                "DevPlane",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "timbal-connector",
            dependencies: [
                "ConnectorCore",
                "ConnectorDaemon",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(name: "ConnectorCoreTests", dependencies: ["ConnectorCore"]),
        // Unit tests of the daemon, without Postgres: the channel client against an in-process plane.
        .testTarget(
            name: "DaemonTests",
            dependencies: [
                "ConnectorDaemon", "ChannelProtocol", "ConnectorCore", "DevPlane",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["ConnectorCore", "PostgresClient", "SQLiteStore", "ChannelProtocol", "DevPlane", "ConnectorDaemon"]
        ),
    ]
)
