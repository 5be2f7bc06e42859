public import Foundation
public import SMBKit
public import SiteModel

#if canImport(Glibc)
import Glibc
#endif

/// Where a `standard` sender delivers for a destination site: its site server's inbox share over SMB, or, in a
/// single-machine lab, the inbox folder itself (local or mounted).
public enum InboxLocation: Sendable, CustomStringConvertible {
    case folder(URL)
    case smb(host: String, port: Int, share: String, credentials: SMBCredentials)

    public var description: String {
        switch self {
        case .folder(let url): url.path
        case .smb(let host, let port, let share, _): "smb://\(host):\(port)/\(share)"
        }
    }
}

/// Finds the inbox of the site server an address points at (its `destination`, else the site's server).
public typealias InboxResolver = @Sendable (_ site: SiteCode, _ server: String) -> InboxLocation?

/// A delivery that did not happen, and whether the same address is worth another try.
struct DeliveryFailure: Error, CustomStringConvertible {
    enum Kind { case senderNotInstalled, noInbox, transport }
    var kind: Kind
    var description: String
}

/// Carries one job file over one address to the next site.
struct JobCarrier: Sendable {
    let sending: SiteCode
    let folders: SiteFolders
    let resolveInbox: InboxResolver
    let calendar: Calendar
    var smbclient: SMBClientProgram?

    /// The name the job gets in the next inbox: unique per delivery, since renaming onto an existing SMB name is
    /// not atomic and a redelivery after a crash must not collide with the first copy.
    static func inboxName(_ header: JobHeader) -> String {
        "\(header.id).\(header.signer).\(UUID().uuidString.prefix(8).lowercased()).\(JobFile.suffix)"
    }

    /// The name a job is written under before it is renamed: the same for every delivery of a job from one
    /// sender, so a delivery cut off by a crash leaves no orphan behind once the next one starts.
    static func temporaryName(_ header: JobHeader) -> String { ".\(header.id).\(header.signer).tmp" }

    /// Delivers `job`, reporting the bytes sent after each block. Returns where it went. `header`, when given, is
    /// sent in place of the file's own header (a forwarded job goes out re-signed by this site; its file is still
    /// the copy that arrived).
    func deliver(
        _ job: JobFile,
        header: Data? = nil,
        to next: SiteCode,
        server: String,
        via address: Address,
        progress: @escaping @Sendable (Int64) -> Void
    ) async throws -> String {
        switch address.sender {
        case .standard:
            guard let inbox = resolveInbox(next, address.destination ?? server) else {
                throw DeliveryFailure(
                    kind: .noInbox,
                    description: "no inbox known for \(next) at \(address.destination ?? server)"
                )
            }
            let limiter = RateLimiter(address.rateLimit, calendar: calendar)
            let section = Section(job: job, header: header)
            let total = section.size
            let name = Self.inboxName(job.header)
            switch inbox {
            case .folder(let folder):
                try await copy(
                    section,
                    into: folder,
                    as: name,
                    temporaryName: Self.temporaryName(job.header),
                    limiter: limiter,
                    progress: progress
                )
            case .smb(let host, let port, let share, let credentials):
                do {
                    let connection = try await SMBShare(host: host, port: port, share: share, credentials: credentials)
                    // smbclient where nothing paces the link and the job is more than one block.
                    if let smbclient, case .unlimited = address.rateLimit, total >= SMBClientUpload.minimumSize {
                        try await SMBClientUpload.upload(
                            job.url,
                            from: section.offset,
                            after: section.prefix,
                            to: connection,
                            credentials: credentials,
                            as: name,
                            temporaryName: Self.temporaryName(job.header),
                            smbclient: smbclient,
                            progress: progress
                        )
                    } else {
                        try await connection.upload(
                            job.url,
                            from: section.offset,
                            after: section.prefix,
                            as: name,
                            temporaryName: Self.temporaryName(job.header),
                            blockSize: limiter.blockSize
                        ) { sent, took in
                            progress(sent)
                            // No pause after the last block: the limit paces the link, not the end of the job.
                            if sent < total { try await Self.pace(limiter, blockTook: took) }
                        }
                    }
                } catch let error as SMBError {
                    throw DeliveryFailure(kind: .transport, description: error.description)
                }
            }
            return "\(inbox)/\(name)"
        case .courier:
            let parcel = folders.courier.appendingPathComponent("\(job.header.id).to-\(next).parcel")
            try await copy(
                Section(job: job, header: header),
                into: folders.courier,
                as: parcel.lastPathComponent,
                temporaryName: "." + parcel.lastPathComponent + ".tmp",
                limiter: nil,
                progress: progress
            )
            return parcel.path
        case .asyncRas, .isdnRas, .x25Ras, .snaRas:
            throw DeliveryFailure(
                kind: .senderNotInstalled,
                description: "sender-not-installed: the \(address.sender.rawValue) sender is modelled for planning only"
            )
        }
    }

    private static func pace(_ limiter: RateLimiter?, blockTook elapsed: Duration) async throws {
        guard let limiter else { return }
        let pause = limiter.pause(afterBlockTaking: elapsed, at: Date())
        if pause > .zero { try await Task.sleep(for: pause) }
    }

    /// What goes over the wire: the job's file, or its payload after a header of this site's.
    struct Section {
        let file: URL
        let prefix: Data
        let offset: UInt64
        let size: Int64

        init(job: JobFile, header: Data?) {
            file = job.url
            let fileSize = (try? FileManager.default.attributesOfItem(atPath: job.url.path)[.size] as? Int64) ?? 0
            prefix = header ?? Data()
            offset = header == nil ? 0 : job.payloadOffset
            size = Int64(prefix.count) + max(0, fileSize - Int64(offset))
        }
    }

    /// Copies the job into a folder under a hidden temporary name, then renames it: readers see all or nothing.
    private func copy(
        _ section: Section,
        into folder: URL,
        as name: String,
        temporaryName: String,
        limiter: RateLimiter?,
        progress: @escaping @Sendable (Int64) -> Void
    ) async throws {
        let target = folder.appendingPathComponent(name)
        let total = section.size
        let temporary = folder.appendingPathComponent(temporaryName)
        // What a cut-off delivery left under the temporary name goes first; the new file is created exclusively,
        // so a link planted under that name in the next inbox is never written through.
        unlink(temporary.path)
        do {
            let output = try RegularFile.createForWriting(temporary)
            defer { try? output.close() }
            let input = try RegularFile.openForReading(section.file)
            defer { try? input.close() }
            try input.seek(toOffset: section.offset)
            var sent: Int64 = 0
            var pending = section.prefix
            let blockSize = limiter?.blockSize ?? (1 << 20)
            while true {
                let started = ContinuousClock.now
                var block = pending
                pending = Data()
                if block.count < blockSize { block += try input.read(upToCount: blockSize - block.count) ?? Data() }
                guard !block.isEmpty else { break }
                try output.write(contentsOf: block)
                sent += Int64(block.count)
                progress(sent)
                if sent < total { try await Self.pace(limiter, blockTook: ContinuousClock.now - started) }
            }
            try output.synchronize()
        } catch {
            unlink(temporary.path)
            if error is CancellationError { throw error }
            throw DeliveryFailure(kind: .transport, description: "cannot write into \(folder.path): \(error)")
        }
        guard rename(temporary.path, target.path) == 0 else {
            unlink(temporary.path)
            throw DeliveryFailure(kind: .transport, description: "cannot rename into \(folder.path)")
        }
    }
}
