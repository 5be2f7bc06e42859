import BlockingWork
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `site run` stops on SIGTERM even while a client holds a download open and reads nothing (hostile review
/// finding 6: it was still running 30 s later, and a new `site run` was refused as "already running").
extension CommandLine {
    @Test(.timeLimit(.minutes(3))) func siteRunStopsOnSIGTERMWhileADownloadIsOpen() async throws {
        try await Self.withFolder { folder in
            let site = ["--hierarchy", Self.example, "--dir", folder]
            #expect(try await Self.siteloc(["site", "init", "--site", "CEN"] + site).status == 0)
            let content = folder + "/big.bin"
            try Data(repeating: 3, count: 48 << 20).write(to: URL(fileURLWithPath: content))
            #expect(try await Self.siteloc(["send", "package", "CEN00001", "--content", content] + site).status == 0)

            let (process, ended, printed) = try Self.startSiteRun(site)
            let dp = try await Self.waitFor("cen-dp1's listener", seconds: 60) { () -> URL? in
                let lines = ((try? String(contentsOfFile: printed, encoding: .utf8)) ?? "").split(separator: "\n")
                return lines.first { $0.hasPrefix("cen-dp1.corp.contoso.com ") }
                    .flatMap { $0.split(separator: " ").last }.flatMap { URL(string: String($0)) }
            }
            let port = try #require(dp.port)
            // A download whose client never reads: the DP's writes stall with 48 MiB still to send.
            let stalled = try await withBlockingWork { try Self.openStalledDownload(port: port) }
            defer { close(stalled) }
            // The download is open once the DP has started answering it.
            let answering = await withBlockingWork { () -> Bool in
                var descriptor = pollfd(fd: stalled, events: Int16(POLLIN), revents: 0)
                return poll(&descriptor, 1, 10_000) > 0
            }
            #expect(answering && process.isRunning)
            let started = ContinuousClock.now
            kill(process.processIdentifier, SIGTERM)
            let stopped = await withBlockingWork { ProcessEnd.wait(ended, seconds: 20) }
            if !stopped {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            #expect(stopped, "site run still running 20 s after SIGTERM")
            print("site run stopped \(ContinuousClock.now - started) after SIGTERM with a download open")
            // The site's lock is free: the next `site run` starts.
            let (again, _, againPrinted) = try Self.startSiteRun(site)
            defer {
                kill(again.processIdentifier, SIGTERM)
                again.waitUntilExit()
            }
            _ = try await Self.waitFor("the second site run", seconds: 60) { () -> Bool? in
                let text = (try? String(contentsOfFile: againPrinted, encoding: .utf8)) ?? ""
                return text.contains("site server CEN running") ? true : nil
            }
        }
    }

    static func startSiteRun(_ site: [String]) throws -> (Process, DispatchSemaphore, String) {
        let printed = FileManager.default.temporaryDirectory.appendingPathComponent("site-run-\(UUID().uuidString)")
            .path
        _ = FileManager.default.createFile(atPath: printed, contents: nil)
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["site", "run", "--site", "CEN", "--transport", "folder", "--poll-interval", "0.05"] + site
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: printed))
        process.standardError = FileHandle.nullDevice
        let ended = try ProcessEnd.run(process)
        return (process, ended, printed)
    }

    /// A connection that asks for the package and then reads nothing, with a small receive buffer.
    static func openStalledDownload(port: Int) throws -> Int32 {
        let socket = try LoopbackSocket.connect(port: port, receiveBuffer: 4_096)
        let request = Array("GET /SMS_DP_SMSPKG$/CEN00001/ HTTP/1.1\r\nHost: cen-dp1\r\n\r\n".utf8)
        _ = write(socket, request, request.count)
        return socket
    }
}
