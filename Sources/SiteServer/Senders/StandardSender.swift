public import Foundation
public import SMBKit
public import SiteModel

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

/// Configuration Manager's standard sender: the job into the next site server's inbox, over SMB (smbclient where
/// nothing paces the link and the job is more than one block, libsmbclient otherwise) or into a folder.
struct StandardSender: JobSender {
    let resolveInbox: InboxResolver
    let calendar: Calendar
    let smbclient: SMBClientProgram?

    /// The name the job gets in the next inbox: unique per delivery, since renaming onto an existing SMB name is
    /// not atomic and a redelivery after a crash must not collide with the first copy.
    static func inboxName(_ header: JobHeader) -> String {
        "\(header.id).\(header.signer).\(UUID().uuidString.prefix(8).lowercased()).\(JobFile.suffix)"
    }

    /// The name a job is written under before it is renamed: the same for every delivery of a job from one
    /// sender, so a delivery cut off by a crash leaves no orphan behind once the next one starts.
    static func temporaryName(_ header: JobHeader) -> String { ".\(header.id).\(header.signer).tmp" }

    func deliver(_ delivery: JobDelivery) async throws -> String {
        let address = delivery.address
        let server = address.destination ?? delivery.server
        guard let inbox = resolveInbox(delivery.next, server) else {
            throw DeliveryFailure(reason: .noInbox, description: "no inbox known for \(delivery.next) at \(server)")
        }
        let limiter = RateLimiter(address.rateLimit, calendar: calendar)
        let section = delivery.section
        let header = delivery.job.header
        let name = Self.inboxName(header)
        switch inbox {
        case .folder(let folder):
            try await FolderCopy.copy(
                section,
                into: folder,
                as: name,
                temporaryName: Self.temporaryName(header),
                limiter: limiter,
                progress: delivery.progress
            )
        case .smb(let host, let port, let share, let credentials):
            do {
                let connection = try await SMBShare(host: host, port: port, share: share, credentials: credentials)
                if let smbclient, case .unlimited = address.rateLimit, section.size >= SMBClientUpload.minimumSize {
                    try await SMBClientUpload.upload(
                        section.file,
                        from: section.offset,
                        after: section.prefix,
                        to: connection,
                        credentials: credentials,
                        as: name,
                        temporaryName: Self.temporaryName(header),
                        smbclient: smbclient,
                        progress: delivery.progress
                    )
                } else {
                    let total = section.size
                    try await connection.upload(
                        section.file,
                        from: section.offset,
                        after: section.prefix,
                        as: name,
                        temporaryName: Self.temporaryName(header),
                        blockSize: limiter.blockSize
                    ) { sent, took in
                        delivery.progress(sent)
                        // No pause after the last block: the limit paces the link, not the end of the job.
                        if sent < total { try await FolderCopy.pace(limiter, blockTook: took) }
                    }
                }
            } catch let error as SMBError {
                throw DeliveryFailure(reason: .transport, description: error.description)
            }
        }
        return "\(inbox)/\(name)"
    }
}
