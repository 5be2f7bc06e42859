import ArgumentParser
import CommandLineCore
import Foundation
import SiteModel
import SiteRouting

struct RouteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "The hop-by-hop path of a job between two sites and the address used at each hop.",
        discussion: """
            Sites talk only to their parent and children, so a job travels up to the lowest common ancestor and \
            down again. At each hop the sending site uses its first address (by priority) for the next site whose \
            schedule admits the job's priority at the planned time; when none is open yet, the hop shows when \
            the first one opens (waitUntil). Exit status 1 when the route cannot be made, 2 for an unknown site.
            """
    )

    @Option(help: "The hierarchy file.")
    var hierarchy: String

    @Option(help: "The sending site.")
    var from: String

    @Option(help: "The destination site.")
    var to: String

    @Option(help: "The job's priority: high, medium or low.")
    var priority: String = JobPriority.medium.rawValue

    @Option(help: "When the job is sent, ISO 8601 local time to the minute (e.g. 2026-11-23T10:00); default now.")
    var at: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard JobPriority(rawValue: priority.lowercased()) != nil else {
            throw ValidationError("--priority must be high, medium or low, not '\(priority)'")
        }
        if let at, LocalTime.parse(at) == nil {
            throw ValidationError(
                "--at '\(at)' is not a local time; expected ISO 8601 to the minute, e.g. 2026-11-23T10:00"
            )
        }
    }

    func run() throws {
        let model = try loadHierarchy(hierarchy)
        let time = at.flatMap { LocalTime.parse($0) } ?? Date()
        let planner = RoutePlanner(hierarchy: model)
        let route = planner.route(
            from: from.uppercased(),
            to: to.uppercased(),
            priority: JobPriority(rawValue: priority.lowercased()) ?? .medium,
            at: time
        )
        if json {
            try printJSON(route)
        } else {
            print(
                "route \(route.from) → \(route.to), \(route.priority.rawValue) priority, planned at "
                    + LocalTime.string(from: time)
            )
            for hop in route.hops {
                var line = "  \(hop.from) → \(hop.to)  \(hop.sender.rawValue) (address priority \(hop.priority))"
                if !hop.installed { line += ", sender not installed here" }
                if let wait = hop.waitUntil { line += ", waits until \(LocalTime.string(from: wait))" }
                print(line)
            }
            if let failure = route.failure {
                print("  cannot be made: \(failure.code.rawValue): \(failure.message)")
            }
        }
        switch route.failure?.code {
        case nil: return
        case .unknownSite: throw ExitCode(ExitStatus.badInput.rawValue)
        case .missingAddress, .noAvailableAddress: throw ExitCode(ExitStatus.problemsFound.rawValue)
        }
    }
}
