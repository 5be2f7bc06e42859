#if canImport(Glibc)
import Glibc
#endif

/// What libFuzzer calls with each input.
public typealias FuzzInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: FuzzInput
) -> CInt

/// Hands the command line to libFuzzer. SwiftPM gives every executable its own `main` (renamed per module, which
/// libFuzzer's own `main` cannot stand in for), so each target's `main` starts libFuzzer's driver itself.
public func runFuzzer(_ callback: FuzzInput) -> Never {
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
}
