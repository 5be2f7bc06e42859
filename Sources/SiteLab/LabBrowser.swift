public import DirectoryServing
public import Foundation

/// A headless browser for the lab: Debian's chromium takes a screenshot of a page (the demo's status page).
public enum LabBrowser {
    static let chromium = "/usr/bin/chromium"

    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: chromium) }

    /// Renders `url` at 1280×1400 into the PNG `file`. Root needs `--no-sandbox`; the page gets 15 s.
    public static func screenshot(of url: URL, to file: String) async throws(LabError) {
        guard isInstalled else { throw LabError("no \(chromium): install it with apt-get install chromium") }
        _ = try await ProcessControl.run(
            chromium,
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--timeout=15000",
                "--window-size=1280,1400", "--screenshot=\(file)", url.absoluteString,
            ]
        )
        guard FileManager.default.fileExists(atPath: file) else {
            throw LabError("chromium made no screenshot of \(url)")
        }
    }
}
