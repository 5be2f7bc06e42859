// swift-tools-version:6.2
import PackageDescription

// `make test` sets SITELOC_STRICT=1 so that any warning in our own targets fails the build.
let strict = Context.environment["SITELOC_STRICT"] != nil

let package = Package(
    name: "siteloc",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "siteloc", targets: ["siteloc"]),
        // The container image's binary: `siteloc serve` and nothing else, so its static build stays small.
        .executable(name: "siteloc-serve", targets: ["siteloc-serve"]),
        .library(name: "LDAPKit", targets: ["LDAPKit"]),
        .library(name: "SiteDirectory", targets: ["SiteDirectory"]),
        // For the fuzz targets (Fuzz/), a package of their own so that a plain build never needs libFuzzer.
        .library(name: "HierarchyFile", targets: ["HierarchyFile"]),
        .library(name: "SiteServer", targets: ["SiteServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Already in the graph through Hummingbird; named for NIOHTTPTypes (the HTTP parts a connection guard sees).
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        // Already in the graph through Hummingbird; named for the router tests' HTTPFields.
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // Already in the graph through swift-nio; named for `Errno`, the typed errno of the system-call layer.
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // Layer 0: the C library, nothing but a module map and a header.
        .systemLibrary(
            name: "CLDAP",
            pkgConfig: "ldap",
            providers: [.apt(["libldap2-dev", "libsasl2-dev"])]
        ),
        .systemLibrary(
            name: "CSMBClient",
            providers: [.apt(["libsmbclient-dev"])]
        ),
        // Layer 1: the libldap wrapper. The only module that imports CLDAP.
        .target(
            name: "LDAPKit",
            dependencies: [
                "CLDAP", "SystemCalls",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Layer 1: the libsmbclient wrapper. The only module that imports CSMBClient.
        .target(name: "SMBKit", dependencies: ["CSMBClient", "BlockingWork", "SystemCalls"]),
        // Layer 1: the system calls siteloc makes, with typed errno: atomic files and starting programs, once.
        .target(name: "SystemCalls", dependencies: [.product(name: "SystemPackage", package: "swift-system")]),
        // Layer 0: what siteloc asks of the system's OpenSSL (libcrypto), in plain C types.
        .target(name: "COpenSSLCrypto", linkerSettings: [.linkedLibrary("crypto")]),
        // Layer 1: SHA-256, Ed25519 and the lab's certificates over it. The only module that imports COpenSSLCrypto.
        .target(name: "SystemCrypto", dependencies: ["COpenSSLCrypto"]),
        // Layer 1: the threads blocking work runs on, away from Swift's cooperative pool.
        .target(name: "BlockingWork"),
        // Layer 2: pure model and the schema definition; no LDAP, no I/O.
        .target(name: "SiteModel"),
        .target(name: "DirectorySchema"),
        // Layer 2b: the hierarchy file (YAML) read into the model, with every problem located.
        .target(
            name: "HierarchyFile",
            dependencies: ["SiteModel", .product(name: "Yams", package: "Yams")]
        ),
        // Test support shipped as a library: synthetic hierarchies for load tests and benchmarks.
        .target(name: "SiteTestKit", dependencies: ["SiteModel", "SystemCalls"]),
        // Layer 3: the directory mapping (what lives where, under which names).
        .target(
            name: "SiteDirectory",
            dependencies: [
                "LDAPKit", "SiteModel", "DirectorySchema",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Layer 4: services: client and content location (roaming), over the directory and the model.
        .target(
            name: "SiteLocation",
            dependencies: ["SiteModel", "SiteDirectory", "LDAPKit", .product(name: "Logging", package: "swift-log")]
        ),
        // Layer 3: a site's own database (SQLite through GRDB): its placements and the package status from below.
        .target(name: "SiteDatabase", dependencies: ["SiteModel", .product(name: "GRDB", package: "GRDB.swift")]),
        // Layer 3: site-to-site communication: routes through addresses.
        .target(name: "SiteRouting", dependencies: ["SiteModel"]),
        // Layer 3: the cross-forest rules, judged over the model and what the directories say (pure).
        .target(name: "SiteTrust", dependencies: ["SiteModel"]),
        // Layer 4: services: the site server (keys, jobs, senders, inbox and outbox).
        .target(
            name: "SiteServer",
            dependencies: [
                "SiteModel", "SiteRouting", "SiteDirectory", "SiteDatabase", "LDAPKit", "SMBKit", "BlockingWork",
                "SystemCalls",
                "SystemCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Layer 4: services: the embedded lab directory.
        .target(
            name: "SiteLab",
            dependencies: [
                "LDAPKit", "SMBKit", "SiteModel", "SiteDirectory", "DirectorySchema", "BlockingWork", "SiteServer",
                "DirectoryServing", "SystemCalls",
                .product(name: "Logging", package: "swift-log"),
                "SystemCrypto",
            ]
        ),
        // Layer 4: one forest's directory server (slapd: configuration, schema, replication, its process), what
        // `siteloc serve` runs in the container; kept free of HTTP, SQLite and cryptography so that the container's
        // static binary builds in minutes.
        .target(
            name: "DirectoryServing",
            dependencies: [
                "LDAPKit", "SiteModel", "SiteDirectory", "DirectorySchema", "BlockingWork", "SystemCalls",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Layer 4: services: a site system's management point and distribution point over HTTP (Hummingbird).
        .target(
            name: "SiteServices",
            dependencies: [
                "SiteModel", "SiteLocation", "SiteServer", "SiteDatabase", "BlockingWork",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Layer 4: the client that finds content and downloads it, resuming across distribution points.
        .target(
            name: "SiteClient",
            dependencies: [
                "SiteModel", "SiteLocation", "BlockingWork", "SystemCalls",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                "SystemCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Layer 5: assembly: where a deployment's parts are, and the site servers, directory clients and locators
        // built from that; the lab is one provider of it.
        .target(
            name: "SiteAssembly",
            dependencies: [
                "LDAPKit", "SMBKit", "SiteModel", "SiteDirectory", "SiteLocation", "SiteServer", "SiteLab",
                "DirectoryServing",
                "SiteServices", "SiteClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Layer 6: the command line, thin over the layers below.
        // Layer 6: what both executables share: exit statuses from failure kinds, the environment's secrets, the
        // escaping log handler, and `serve` (one forest's directory in the foreground).
        .target(
            name: "CommandLineCore",
            dependencies: [
                "LDAPKit", "SMBKit", "SiteModel", "DirectoryServing", "SystemCalls",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "siteloc-serve", dependencies: ["CommandLineCore", "SiteModel"]),
        .executableTarget(
            name: "siteloc",
            dependencies: [
                "LDAPKit", "SiteModel", "SiteDirectory", "DirectorySchema", "SiteLab", "DirectoryServing",
                "HierarchyFile", "SiteLocation",
                "SiteRouting", "SiteServer", "SMBKit", "SiteTrust", "SiteDatabase", "SiteAssembly", "SiteServices",
                "SiteClient", "CommandLineCore", "SystemCalls", "BlockingWork",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),

        // Benchmarks: the wrapper next to the same loops written in C against libldap.
        .target(
            name: "CLDAPBaseline",
            dependencies: ["CLDAP"],
            path: "Benchmarks/CLDAPBaseline"
        ),
        .executableTarget(
            name: "siteloc-bench",
            dependencies: [
                "LDAPKit", "SiteLab", "DirectoryServing", "SiteDirectory", "SiteModel", "CLDAPBaseline", "SiteTestKit",
                "SiteLocation",
                "HierarchyFile", "SiteServer", "SMBKit", "SiteDatabase", "SiteAssembly", "SiteServices",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/LDAPBench"
        ),

        .testTarget(name: "LDAPKitTests", dependencies: ["LDAPKit"]),
        .testTarget(name: "DirectorySchemaTests", dependencies: ["DirectorySchema"]),
        .testTarget(name: "HierarchyTests", dependencies: ["HierarchyFile", "SiteModel", "BlockingWork"]),
        .testTarget(
            name: "SiteLocationTests",
            dependencies: ["SiteLocation", "SiteModel", "HierarchyFile", "SiteDirectory"]
        ),
        .testTarget(name: "SiteDatabaseTests", dependencies: ["SiteDatabase"]),
        .testTarget(
            name: "SiteServicesTests",
            dependencies: ["SiteServices", .product(name: "Hummingbird", package: "hummingbird")]
        ),
        .testTarget(name: "BlockingWorkTests", dependencies: ["BlockingWork"]),
        .testTarget(name: "SystemCryptoTests", dependencies: ["SystemCrypto", "SystemCalls"]),
        .testTarget(name: "SiteRoutingTests", dependencies: ["SiteRouting", "SiteModel", "HierarchyFile"]),
        .testTarget(name: "SiteTrustTests", dependencies: ["SiteTrust", "SiteModel", "HierarchyFile"]),
        .testTarget(
            name: "SiteServerTests",
            dependencies: ["SiteServer", "SiteRouting", "SiteModel", "HierarchyFile", "SiteDatabase"]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "LDAPKit", "SiteLab", "DirectoryServing", "SiteDirectory", "DirectorySchema", "SiteModel",
                "HierarchyFile", "SiteTestKit",
                "SiteLocation", "SiteServer", "SiteRouting", "SMBKit", "SiteTrust", "BlockingWork", "SiteDatabase",
                "SiteAssembly", "SiteServices", "SiteClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                "SystemCrypto",
            ]
        ),
    ]
)

for target in package.targets
where target.type != .system && !["CLDAPBaseline", "COpenSSLCrypto"].contains(target.name) {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    settings.append(.enableUpcomingFeature("NonisolatedNonsendingByDefault"))
    if strict {
        settings.append(.treatAllWarnings(as: .error))
    }
    target.swiftSettings = settings
}
