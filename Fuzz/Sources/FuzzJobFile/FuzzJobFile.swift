import Foundation
import FuzzDriver
import SiteServer

/// Any bytes as the head of a job file: a header is either refused, or every field that reaches a file name or a
/// comparison is of its exact form.
@main struct FuzzJobFileMain {
    static func main() { runFuzzer(fuzzJobFile) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJobFile(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let head = Data(UnsafeRawBufferPointer(start: start, count: count))
    guard let parsed = try? JobFile.parse(head: head) else { return 0 }
    let header = parsed.header
    let safe = header.id.utf8.allSatisfy {
        $0 == UInt8(ascii: "-") || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0)
    }
    precondition(!header.id.isEmpty && header.id.utf8.count <= 64 && safe, "unsafe id \(header.id)")
    for code in [header.origin, header.destination, header.signer] {
        precondition(
            code.rawValue.utf8.count == 3
                && code.rawValue.utf8.allSatisfy { (48...57).contains($0) || (65...90).contains($0) },
            "site code not of its form: \(code.rawValue)"
        )
    }
    precondition(header.payloadBytes >= 0)
    precondition(parsed.payloadOffset <= UInt64(head.count))
    return 0
}
