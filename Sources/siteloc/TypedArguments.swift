import ArgumentParser
import SiteModel
import SiteRouting

// Options are read into the model's own types as they are parsed: a value that is not one is refused with the
// type's own explanation (exit 2), and a command's `run()` never checks a string by hand.

/// Text that names none of a set of values; says which ones there are.
struct UnknownValue: Error, CustomStringConvertible {
    let given: String
    let expected: [String]
    var description: String { "'\(given)' is not one of \(expected.joined(separator: ", "))" }
}

extension SiteRouting.JobPriority {
    /// Parses `--priority` in either case.
    static func argument(_ text: String) throws -> Self {
        guard let priority = Self(rawValue: ASCII.lowercased(text)) else {
            throw UnknownValue(given: text, expected: allCases.map(\.rawValue))
        }
        return priority
    }
}
