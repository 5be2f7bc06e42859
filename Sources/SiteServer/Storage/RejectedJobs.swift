import Foundation
import SystemCalls

/// `rejected/`: what a site server keeps of the jobs it refused. A neighbour can send any number of junk jobs of any
/// size, so only a job's head is kept (its three lines: header, signed bytes, signature; the payload's size and hash
/// are in the header), and only the newest `kept` of them; the total is counted in the site database.
public struct RejectedJobs: Sendable {
    public struct Entry: Sendable, Encodable {
        public var file: String
        public var code: String
        public var reason: String
    }

    /// How many refused jobs stay in `rejected/` (the oldest go first).
    public static let kept = 100
    /// What is kept of a job whose head cannot be parsed: enough to see what it was.
    static let malformedHeadBytes = 4_096

    let folders: SiteFolders

    /// Keeps the head of `file` (a job claimed from the inbox, now refused) with its reason, removes the file, and
    /// forgets the oldest refused jobs beyond `kept`.
    func keep(_ file: URL, _ rejection: JobRejection) throws(SiteServerError) -> JobHeader? {
        let name = file.lastPathComponent
        var head = Data()
        var header: JobHeader?
        if let handle = try? RegularFile.openForReading(file) {
            head = (try? handle.read(upToCount: JobFile.headLimit)) ?? Data()
            try? handle.close()
            if let parsed = try? JobFile.parse(head: head) {
                header = parsed.header
                head = head.prefix(Int(parsed.payloadOffset))
            } else {
                head = head.prefix(Self.malformedHeadBytes)
            }
        }
        let reason = (try? RecordCoding.encoder(pretty: true).encode(rejection)) ?? Data()
        try SiteServerError.storing {
            try AtomicFile.write(folders.rejected.appendingPathComponent(name + ".reason.json"), contents: reason)
        }
        try SiteServerError.storing {
            try AtomicFile.write(folders.rejected.appendingPathComponent(name), contents: head)
        }
        unlink(file.path)
        forgetOldest()
        return header
    }

    /// The refused jobs kept, newest first.
    public func entries() -> [Entry] {
        files().map { file in
            let reason = RegularFile.contents(of: URL(fileURLWithPath: file.url.path + ".reason.json"))
                .flatMap { try? JSONDecoder().decode(JobRejection.self, from: $0) }
            return Entry(
                file: file.url.lastPathComponent,
                code: reason?.code.rawValue ?? "unknown",
                reason: reason?.message ?? "(no reason recorded)"
            )
        }
    }

    private func forgetOldest() {
        for file in files().dropFirst(Self.kept) {
            unlink(file.url.path)
            unlink(file.url.path + ".reason.json")
        }
    }

    /// The job files in `rejected/`, newest first (by when they were kept; names break ties).
    private func files() -> [(url: URL, time: Int)] {
        folders.files(in: folders.rejected, suffix: JobFile.suffix).map { url in
            var status = stat()
            let time =
                lstat(url.path, &status) == 0 ? status.st_mtim.tv_sec * 1_000_000_000 + status.st_mtim.tv_nsec : 0
            return (url, time)
        }
        .sorted { ($0.time, $0.url.lastPathComponent) > ($1.time, $1.url.lastPathComponent) }
    }
}
