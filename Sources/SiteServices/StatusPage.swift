import Foundation
import SiteServer

/// HTML in which every interpolated value is escaped unless it is itself ``HTML``: a site's name, a job's file
/// name or a peer's error message can never become markup. ``escape(_:)`` also serves XML (the MPLIST).
struct HTML: ExpressibleByStringInterpolation, Sendable {
    private(set) var text: String

    init(stringLiteral value: String) { text = value }

    init(stringInterpolation: Interpolation) { text = stringInterpolation.text }

    struct Interpolation: StringInterpolationProtocol {
        var text = ""
        init(literalCapacity: Int, interpolationCount: Int) { text.reserveCapacity(literalCapacity * 2) }
        mutating func appendLiteral(_ literal: String) { text += literal }
        mutating func appendInterpolation(_ value: HTML) { text += value.text }
        mutating func appendInterpolation(_ value: [HTML]) { for part in value { text += part.text } }
        mutating func appendInterpolation(_ value: some CustomStringConvertible) {
            text += HTML.escape(value.description)
        }
    }

    static func escape(_ value: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count)
        for character in value.unicodeScalars {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }
}

/// The status page (docs/operations.md): server-rendered, readable without JavaScript, styled inline so it asks
/// nothing from anywhere else, and reloading itself every `refreshSeconds`.
public enum StatusPage {
    static let refreshSeconds = 10

    public static func render(_ overview: SiteOverview) -> String {
        let page: HTML = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="refresh" content="\(refreshSeconds)">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>siteloc · site \(overview.site)</title>
            <style>\(HTML(stringLiteral: style))</style></head>
            <body>
            <header><h1>Site \(overview.site)</h1>
            <p id="summary">site server \(overview.running ? "running" : "not running")\
            \(overview.heartbeat.map { HTML(" · heartbeat \(time($0))") } ?? ""), \
            \(overview.applied) jobs applied, \(overview.forwarded) forwarded · as of \(time(overview.generatedAt)) \
            · <a href="/siteloc/v1/status">JSON</a> · <a href="/metrics">metrics</a></p></header>
            \(sites(overview))
            \(packages(overview))
            \(outbox(overview))
            \(rejected(overview))
            \(links(overview))
            </body></html>

            """
        return page.text
    }

    private static func sites(_ overview: SiteOverview) -> HTML {
        let rows = overview.sites.map { node -> HTML in
            """
            <tr data-site="\(node.site)"><td class="tree" style="padding-left:\(Double(node.depth) * 1.5 + 0.5)em">\
            \(node.depth == 0 ? "" : HTML("└ "))<strong>\(node.site)</strong>\
            \(node.name.map { HTML(" \($0)") } ?? "")</td><td>\(node.type)</td><td>\(node.server)</td>\
            <td>\(node.lastStatus.map(time) ?? "no report yet")</td></tr>

            """
        }
        return """
            <section id="sites"><h2>Sites</h2>
            <table><thead><tr><th>site</th><th>type</th><th>server</th><th>last status</th></tr></thead>
            <tbody>
            \(rows)</tbody></table></section>
            """
    }

    private static func packages(_ overview: SiteOverview) -> HTML {
        guard !overview.packages.isEmpty else {
            return
                #"<section id="packages"><h2>Package status</h2><p>No package is meant for the sites below.</p></section>"#
        }
        let tables = overview.packages.map { package -> HTML in
            let rows = package.sites.map { report -> HTML in
                """
                <tr data-package="\(package.package)" data-site="\(report.site)" class="\(report.current ? "ok" : "wait")">\
                <td>\(report.site)</td><td>\(report.current ? "installed" : report.version == nil ? "no status yet" : "older version")</td>\
                <td class="mono">\(report.version.map { String($0.prefix(19)) } ?? "–")</td>\
                <td>\(report.distributionPoints.joined(separator: ", "))</td><td>\(report.placedAt.map(time) ?? "–")</td></tr>

                """
            }
            return """
                <h3>\(package.package) <small>version \(package.version.map { String($0.prefix(19)) } ?? "unknown") · \
                installed at \(package.installed) of \(package.sites.count) sites</small></h3>
                <table><thead><tr><th>site</th><th>state</th><th>version</th><th>distribution points</th>\
                <th>placed</th></tr></thead><tbody>
                \(rows)</tbody></table>

                """
        }
        return """
            <section id="packages"><h2>Package status</h2>
            \(tables)</section>
            """
    }

    private static func outbox(_ overview: SiteOverview) -> HTML {
        guard !overview.outbox.isEmpty else {
            return #"<section id="outbox"><h2>Outbox</h2><p>Nothing waiting.</p></section>"#
        }
        let rows = overview.outbox.map { job -> HTML in
            let state = job.state
            let progress: HTML =
                if let total = state.totalBytes, total > 0 {
                    "\(state.sentBytes * 100 / total)% of \(byteCount(total))"
                } else {
                    "\(byteCount(state.sentBytes))"
                }
            let waiting: HTML =
                if let error = state.lastError {
                    "\(error)\(state.nextAttempt.map { HTML(", next attempt \(time($0))") } ?? "")"
                } else if let next = state.nextAttempt {
                    "until \(time(next))"
                } else {
                    ""
                }
            return """
                <tr data-job="\(job.id)"><td class="mono">\(job.id)</td><td>\(job.package)</td><td>\(job.destination)</td>\
                <td>\(state.status)</td><td>\(state.nextHop ?? "–")</td><td>\(state.address ?? "–")</td>\
                <td>\(state.attempts)</td><td>\(progress)</td><td>\(waiting)</td></tr>

                """
        }
        return """
            <section id="outbox"><h2>Outbox</h2>
            <table><thead><tr><th>job</th><th>package</th><th>to</th><th>state</th><th>next hop</th><th>address</th>\
            <th>attempts</th><th>progress</th><th>waiting because</th></tr></thead><tbody>
            \(rows)</tbody></table></section>
            """
    }

    private static func rejected(_ overview: SiteOverview) -> HTML {
        guard !overview.rejected.isEmpty else {
            return #"<section id="rejected"><h2>Rejected jobs</h2><p>None.</p></section>"#
        }
        let rows = overview.rejected.map { job -> HTML in
            """
            <tr data-rejected="\(job.file)"><td class="mono">\(job.file)</td><td>\(job.code)</td><td>\(job.reason)</td></tr>

            """
        }
        let shown =
            overview.rejectedTotal > overview.rejected.count
            ? HTML(
                "<p>The newest \(overview.rejected.count) of \(overview.rejectedTotal) (only their heads are kept).</p>"
            )
            : ""
        return """
            <section id="rejected"><h2>Rejected jobs</h2>\(shown)
            <table><thead><tr><th>file</th><th>code</th><th>reason</th></tr></thead><tbody>
            \(rows)</tbody></table></section>
            """
    }

    private static func links(_ overview: SiteOverview) -> HTML {
        guard !overview.links.isEmpty else {
            return #"<section id="links"><h2>Links</h2><p>No addresses.</p></section>"#
        }
        let rows = overview.links.map { link -> HTML in
            let hours = link.today.map { run -> HTML in
                """
                <span class="hours \(run.allow)" style="flex:\(run.endHour - run.startHour)" \
                title="\(run.startHour):00–\(run.endHour):00 \(run.allow)">\(run.startHour)–\(run.endHour) \(run.allow)</span>
                """
            }
            return """
                <tr data-link="\(link.from)-\(link.to)-\(link.priority)"><td>\(link.from) → \(link.to)</td>\
                <td>\(link.sender)</td><td>\(link.priority)</td><td>\(link.destination ?? "–")</td><td>\(link.now)</td>\
                <td><div class="day">\(hours)</div></td></tr>

                """
        }
        return """
            <section id="links"><h2>Links and today's schedules</h2>
            <table><thead><tr><th>link</th><th>sender</th><th>priority</th><th>destination</th><th>now</th>\
            <th>today</th></tr></thead><tbody>
            \(rows)</tbody></table></section>
            """
    }

    private static func time(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false))
    }

    private static func byteCount(_ bytes: Int64) -> String {
        bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : bytes >= 1 << 10 ? "\(bytes >> 10) KiB" : "\(bytes) B"
    }

    private static let style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}h1{margin:0}header p{color:#555}
        table{border-collapse:collapse;margin:.5em 0 1.5em;min-width:40em}th,td{border-bottom:1px solid #ddd;
        padding:.25em .6em;text-align:left;vertical-align:top}th{background:#f4f4f4}.mono{font-family:monospace}
        tr.ok td:nth-child(2){color:#176117}tr.wait td:nth-child(2){color:#9a5b00}h3 small{font-weight:normal;color:#555}
        .day{display:flex;min-width:24em;font-size:11px}.hours{overflow:hidden;white-space:nowrap;padding:0 .2em;
        border-right:1px solid #fff}.hours.all{background:#cdeccd}.hours.mediumAndHigh{background:#f6e7b0}
        .hours.highOnly{background:#f6cfa0}.hours.closed{background:#e8b4b4}
        """
}
