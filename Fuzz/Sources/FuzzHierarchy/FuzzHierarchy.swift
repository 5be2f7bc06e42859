import FuzzDriver
import HierarchyFile

/// Any bytes as a hierarchy file: reading and validating may report problems, never crash or hang (libFuzzer's
/// `-timeout` fails an input that takes too long).
@main struct FuzzHierarchyMain {
    static func main() { runFuzzer(fuzzHierarchy) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHierarchy(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    let result = HierarchyReader.read(text)
    // Every problem is located (line 0 only for whole-file problems) and has a message.
    for problem in result.problems where problem.message.isEmpty {
        fatalError("a problem without a message at \(problem.location)")
    }
    return 0
}
