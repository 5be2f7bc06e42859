import Foundation

/// The courier sender: the job becomes a parcel in the site's `courier/` folder, carried by hand and taken in at
/// the other end with `siteloc courier import`.
struct CourierSender: JobSender {
    let folder: URL

    func deliver(_ delivery: JobDelivery) async throws -> String {
        let name = "\(delivery.job.header.id).to-\(delivery.next).parcel"
        try await FolderCopy.copy(
            delivery.section,
            into: folder,
            as: name,
            temporaryName: "." + name + ".tmp",
            limiter: nil,
            progress: delivery.progress
        )
        return folder.appendingPathComponent(name).path
    }
}
