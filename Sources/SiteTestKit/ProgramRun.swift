import Foundation
public import SiteModel
import SystemCalls

/// Runs `executable` with `arguments` to its end and returns what it printed on standard output; a status other
/// than 0 throws, with the command and the end of what it printed on standard error. For the tools benchmarks and
/// test fixtures drive (ip, curl, openssl, wrk), whose error output is short.
@discardableResult
public func runProgram(_ executable: String, _ arguments: [String]) throws -> String {
    let finished = try ChildProcess.run(executable, arguments)
    guard finished.status == 0 else {
        throw ProgramRunError(
            description: "\(executable) \(arguments.joined(separator: " ")) exited \(finished.status): "
                + String(decoding: finished.errors.suffix(2048), as: UTF8.self)
        )
    }
    return finished.text
}

public struct ProgramRunError: KindedError {
    public var kind: FailureKind { .internalError }
    public var description: String
}
