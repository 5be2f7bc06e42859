import Foundation
public import SiteModel

/// Runs `executable` with `arguments` to its end and returns what it printed on standard output; a status other
/// than 0 throws, with the command and the end of what it printed on standard error. For the tools benchmarks and
/// test fixtures drive (ip, curl, openssl, wrk), whose error output is short.
@discardableResult
public func runProgram(_ executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let printed = output.fileHandleForReading.readDataToEndOfFile()
    let said = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ProgramRunError(
            description: "\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): "
                + String(decoding: said.suffix(2048), as: UTF8.self)
        )
    }
    return String(decoding: printed, as: UTF8.self)
}

public struct ProgramRunError: KindedError {
    public var kind: FailureKind { .internalError }
    public var description: String
}
