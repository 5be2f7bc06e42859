import SiteModel
import Yams

/// Reads typed values out of YAML nodes, collecting a problem for everything that is not as expected instead of
/// stopping at the first.
struct NodeReader {
    var problems: [HierarchyProblem] = []

    static func location(_ node: Node?) -> SourceLocation {
        guard let mark = node?.mark else { return .unknown }
        return SourceLocation(line: mark.line, column: mark.column)
    }

    mutating func error(_ node: Node?, _ message: String) {
        problems.append(.error(Self.location(node), message))
    }

    /// The entries of a mapping. Unknown keys and missing required keys are errors; `what` names the thing.
    mutating func mapping(
        _ node: Node?,
        _ what: String,
        keys: [String],
        required: [String] = []
    ) -> [String: Node]? {
        guard let node else { return nil }
        guard case .mapping(let mapping) = node else {
            error(node, "\(what) is \(describe(node)); expected a mapping with keys \(keys.joined(separator: ", "))")
            return nil
        }
        var entries: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.string else {
                error(key, "a key in \(what) is not text")
                continue
            }
            if !keys.contains(name) {
                let suggestion =
                    keys.first { $0.lowercased() == name.lowercased() }.map { " (did you mean \($0)?)" } ?? ""
                error(
                    key,
                    "unknown key '\(name)' in \(what)\(suggestion); expected one of \(keys.joined(separator: ", "))"
                )
                continue
            }
            if entries[name] != nil {
                error(key, "key '\(name)' appears twice in \(what)")
                continue
            }
            entries[name] = value
        }
        for name in required where entries[name] == nil || entries[name]?.isNull == true {
            error(node, "\(what) has no '\(name)'; it is required")
        }
        return entries
    }

    mutating func sequence(_ node: Node?, _ what: String) -> [Node] {
        guard let node, !node.isNull else { return [] }
        guard case .sequence(let sequence) = node else {
            error(node, "\(what) is \(describe(node)); expected a list")
            return []
        }
        return Array(sequence)
    }

    mutating func string(_ node: Node?, _ what: String) -> String? {
        guard let node, !node.isNull else { return nil }
        guard case .scalar(let scalar) = node else {
            error(node, "\(what) is \(describe(node)); expected text")
            return nil
        }
        return scalar.string
    }

    mutating func int(_ node: Node?, _ what: String, range: ClosedRange<Int>? = nil) -> Int? {
        guard let node, !node.isNull else { return nil }
        // Read from the text, never through Yams' integer resolution: it accepts YAML 1.1's base-60 form
        // (`1:0:0:…`) and traps on overflow while computing it.
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = Self.wholeNumber(scalar.string)
        else {
            error(node, "\(what) is \(describe(node)); expected a whole number")
            return nil
        }
        if let range, !range.contains(value) {
            error(node, "\(what) is \(value); expected a whole number from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    /// Decimal digits with an optional sign, within Int's range (`Int(_:)` reports overflow as nil).
    static func wholeNumber(_ text: String) -> Int? {
        let digits = text.utf8.drop { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }
        guard text.utf8.count - digits.count <= 1, !digits.isEmpty, digits.count <= 19,
            digits.allSatisfy(ASCII.isDigit)
        else { return nil }
        return Int(text)
    }

    mutating func bool(_ node: Node?, _ what: String) -> Bool? {
        guard let node, !node.isNull else { return nil }
        guard let value = node.bool, case .scalar = node else {
            error(node, "\(what) is \(describe(node)); expected true or false")
            return nil
        }
        return value
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ node: Node?, _ what: String, _ type: T.Type) -> T?
    where T.RawValue == String {
        guard let text = string(node, what) else { return nil }
        guard let value = T(rawValue: text) else {
            error(
                node,
                "\(what) '\(text)' is not known; expected one of \(T.allCases.map(\.rawValue).joined(separator: ", "))"
            )
            return nil
        }
        return value
    }

    mutating func siteCode(_ node: Node?, _ what: String) -> SiteCode? {
        guard let text = string(node, what) else { return nil }
        do {
            return try SiteCode(text)
        } catch {
            self.error(node, "\(what): \(error)")
            return nil
        }
    }

    /// A DNS host name, lower-cased; anything else is an error naming the expected form.
    mutating func hostName(_ node: Node?, _ what: String) -> String? {
        guard let text = string(node, what) else { return nil }
        guard let name = DNSName.normalized(text) else {
            error(
                node,
                "\(what) '\(Self.shown(text))' is not a DNS host name; expected labels of letters, digits and hyphens"
                    + " separated by dots, e.g. cen-ss.corp.contoso.com"
            )
            return nil
        }
        return name
    }

    /// Text from the file as it goes into a message: control characters escaped, at most 80 characters.
    static func shown(_ text: String) -> String {
        let escaped = text.unicodeScalars.map { scalar in
            scalar.value < 0x20 || scalar.value == 0x7F ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }
        return escaped.prefix(80).joined()
    }

    mutating func forestName(_ node: Node?, _ what: String) -> ForestName? {
        guard let text = string(node, what) else { return nil }
        do {
            return try ForestName(text)
        } catch {
            self.error(node, "\(what): \(error)")
            return nil
        }
    }

    private func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): "'\(scalar.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}

extension Node {
    var isNull: Bool {
        null != nil
    }
}
