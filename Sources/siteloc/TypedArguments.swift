import ArgumentParser
import CommandLineCore
import SiteModel
import SiteRouting

// Options are read into the model's own types as they are parsed: a value that is not one is refused with the
// type's own explanation (exit 2), and a command's `run()` never checks a string by hand.

/// Text that names none of a set of values; says which ones there are.
struct UnknownValue: KindedError {
    var kind: FailureKind { .badInput }
    let given: String
    let expected: [String]
    var description: String { "'\(given)' is not one of \(expected.joined(separator: ", "))" }
}

/// One of an enumeration's values by its name, in either case (`--priority high`, `--transport folder`).
func oneOf<Value: RawRepresentable & CaseIterable>(_ text: String) throws -> Value where Value.RawValue == String {
    guard let value = Value(rawValue: ASCII.lowercased(text)) else {
        throw UnknownValue(given: text, expected: Value.allCases.map(\.rawValue))
    }
    return value
}

/// A time limit given in seconds (`--timeout 2.5`): above 0 and at most 300, read into a `Duration` once.
struct TimeLimit {
    let duration: Duration

    static func seconds(_ value: Double) -> TimeLimit { TimeLimit(duration: .milliseconds(Int(value * 1000))) }

    /// Parses an option's value.
    static func argument(_ text: String) throws -> TimeLimit {
        guard let value = Double(text), value > 0, value <= 300 else {
            throw CommandFailure.badInput("'\(text)' is not a number of seconds above 0 and at most 300, e.g. 2")
        }
        return seconds(value)
    }
}
