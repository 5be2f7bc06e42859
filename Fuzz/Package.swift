// swift-tools-version:6.2
import Foundation
import PackageDescription

// A path dependency is known by its folder's name, which is the clone's name: not always "siteloc".
let siteloc = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent

// libFuzzer targets for siteloc's parsers. Built only by `make fuzz` (scripts/fuzz.sh), with
// `-sanitize=fuzzer,address`; each target's main hands over to libFuzzer's driver (FuzzDriver).
let package = Package(
    name: "siteloc-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "FuzzDriver"),
        .executableTarget(
            name: "FuzzHierarchy",
            dependencies: ["FuzzDriver", .product(name: "HierarchyFile", package: siteloc)]
        ),
        .executableTarget(
            name: "FuzzJobFile",
            dependencies: ["FuzzDriver", .product(name: "SiteServer", package: siteloc)]
        ),
        .executableTarget(
            name: "FuzzEscaping",
            dependencies: ["FuzzDriver", .product(name: "LDAPKit", package: siteloc)]
        ),
    ]
)
