public import Foundation
public import SiteModel

/// One job file to carry over one address to the next site.
public struct JobDelivery: Sendable {
    public let job: JobFile
    /// Sent in place of the file's own header: a forwarded job goes on re-signed by this site, its file still the
    /// copy that arrived. Nil: the file as it is.
    public let header: Data?
    public let next: SiteCode
    /// The site server the address points at: its `destination`, else the next site's server.
    public let server: String
    public let address: Address
    /// Called with the bytes sent so far, after each block.
    public let progress: @Sendable (Int64) -> Void

    /// What goes over the wire: the job's file, or its payload after this site's header.
    public var section: JobSection { JobSection(job: job, header: header) }
}

/// A kind of sender (docs/site-communication.md, "Senders"): carries a job to the next site and says where it went.
/// A new sender is a type conforming to this and one line in ``JobSenders/init(settings:folders:)``; an address
/// whose type has no sender fails as `sender-not-installed` and the next address substitutes.
public protocol JobSender: Sendable {
    /// Delivers the job whole or not at all (the next site sees it only once every byte is there), reporting
    /// progress; returns where it went. A ``DeliveryFailure`` says whether the address is worth another try.
    func deliver(_ delivery: JobDelivery) async throws -> String
}

/// The senders a site server has, by address type.
public struct JobSenders: Sendable {
    private var senders: [SenderType: any JobSender]

    /// The built-in senders, then `settings.senders` (added or replacing).
    public init(settings: SiteServerSettings, folders: SiteFolders) {
        var senders: [SenderType: any JobSender] = [:]
        senders[.standard] = StandardSender(
            resolveInbox: settings.resolveInbox,
            calendar: settings.calendar,
            smbclient: settings.smbclient
        )
        senders[.courier] = CourierSender(folder: folders.courier)
        senders.merge(settings.senders) { $1 }
        self.senders = senders
    }

    func deliver(_ delivery: JobDelivery) async throws -> String {
        guard let sender = senders[delivery.address.sender] else {
            throw DeliveryFailure(
                reason: .senderNotInstalled,
                description:
                    "sender-not-installed: the \(delivery.address.sender.rawValue) sender is modelled for planning only"
            )
        }
        return try await sender.deliver(delivery)
    }
}

/// A delivery that did not happen, and whether the same address is worth another try.
public struct DeliveryFailure: KindedError {
    public var kind: FailureKind { .serviceUnavailable }
    public enum Reason: Sendable { case senderNotInstalled, noInbox, transport }
    public var reason: Reason
    public var description: String

    public init(reason: Reason, description: String) {
        self.reason = reason
        self.description = description
    }
}

/// What goes over the wire: the job's file from `offset`, after `prefix` (a header of this site's, or nothing).
public struct JobSection: Sendable {
    public let file: URL
    public let prefix: Data
    public let offset: UInt64
    public let size: Int64

    init(job: JobFile, header: Data?) {
        file = job.url
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: job.url.path)[.size] as? Int64) ?? 0
        prefix = header ?? Data()
        offset = header == nil ? 0 : job.payloadOffset
        size = Int64(prefix.count) + max(0, fileSize - Int64(offset))
    }
}
