import SiteModel
import Yams

/// What a hierarchy file may not do with YAML's aliases, so that reading it takes time in proportion to its size.
///
/// An alias stands for a whole node written once; nested aliases multiply (`a: &a [x, x]`, `b: &b [*a, *a]`, … — a
/// few hundred bytes that stand for a billion nodes). Yams substitutes each alias by its node and hashes every
/// mapping key to find duplicates, so an alias used as a key costs as much as its expansion before any of our code
/// runs. Hence two limits: before YAML is composed, no alias and no complex (`?`) key may stand where a mapping key
/// goes (the format's keys are all plain words); after, the aliases may not expand the file beyond ``maximumGrowth``
/// times its nodes (nor past ``minimumBudget`` nodes for a small file).
enum YAMLLimits {
    static let maximumGrowth = 10
    static let minimumBudget = 100_000

    /// The first alias or complex key found where a mapping key goes, if any.
    static func keyProblem(in text: String) -> HierarchyProblem? {
        var scanner = KeyScanner()
        return scanner.scan(Array(text.utf8))
    }

    /// A problem when the aliases of `root` expand it beyond the limits. Counts each node written in the file once,
    /// by where it starts, so an alias costs no more to count than to write.
    static func expansionProblem(in root: Node) -> HierarchyProblem? {
        var sizes: [NodeKey: Int] = [:]
        let expanded = size(of: root, &sizes)
        let budget = max(minimumBudget, sizes.count * maximumGrowth)
        guard expanded > budget else { return nil }
        return .error(
            NodeReader.location(root),
            "aliases expand this file to more than \(budget) nodes (it has \(sizes.count)); expected aliases that"
                + " repeat a part of the file at most \(maximumGrowth) times over"
        )
    }

    private struct NodeKey: Hashable {
        var line: Int
        var column: Int
        var kind: UInt8
    }

    private static func size(of node: Node, _ sizes: inout [NodeKey: Int]) -> Int {
        let key: NodeKey? = node.mark.map { mark in
            let kind: UInt8 =
                switch node {
                case .scalar: 0
                case .mapping: 1
                case .sequence: 2
                case .alias: 3
                }
            return NodeKey(line: mark.line, column: mark.column, kind: kind)
        }
        if let key, let known = sizes[key] { return known }
        var total = 1
        switch node {
        case .scalar, .alias:
            break
        case .sequence(let sequence):
            for child in sequence { total = saturatingAdd(total, size(of: child, &sizes)) }
        case .mapping(let mapping):
            for (child, value) in mapping {
                total = saturatingAdd(total, size(of: child, &sizes))
                total = saturatingAdd(total, size(of: value, &sizes))
            }
        }
        if let key { sizes[key] = total }
        return total
    }

    private static func saturatingAdd(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max : sum
    }
}

/// Finds aliases and `?` at the start of a mapping key, skipping comments, quoted text and block scalars: just
/// enough of YAML's lexical rules to know where a token starts.
private struct KeyScanner {
    private var line = 1
    private var column = 1
    private var quote: UInt8?
    private var blockIndent: Int?

    mutating func scan(_ bytes: [UInt8]) -> HierarchyProblem? {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            lines.append(bytes[start..<index])
            start = index + 1
        }
        lines.append(bytes[start...])
        for (number, text) in lines.enumerated() {
            line = number + 1
            if let problem = scanLine(Array(text)) { return problem }
        }
        return nil
    }

    private mutating func scanLine(_ text: [UInt8]) -> HierarchyProblem? {
        let indent = text.prefix { $0 == UInt8(ascii: " ") }.count
        if let block = blockIndent {
            if indent == text.count || indent > block { return nil }
            blockIndent = nil
        }
        var index = 0
        var previous: UInt8 = UInt8(ascii: " ")
        while index < text.count {
            let byte = text[index]
            if let open = quote {
                if open == UInt8(ascii: "\"") && byte == UInt8(ascii: "\\") {
                    index += 2
                    continue
                }
                if byte == open {
                    if open == UInt8(ascii: "'"), index + 1 < text.count, text[index + 1] == open {
                        index += 2
                        continue
                    }
                    quote = nil
                }
                previous = byte
                index += 1
                continue
            }
            let tokenStart = Self.isBlank(previous) || Self.startsToken(previous)
            if byte == UInt8(ascii: "#") && Self.isBlank(previous) { return nil }
            if tokenStart {
                switch byte {
                case UInt8(ascii: "'"), UInt8(ascii: "\""):
                    quote = byte
                case UInt8(ascii: "?") where index + 1 == text.count || Self.isBlank(text[index + 1]):
                    return problem(
                        at: index,
                        "a complex mapping key ('?') is not part of the hierarchy format; expected plain keys"
                    )
                case UInt8(ascii: "*"):
                    var end = index + 1
                    while end < text.count, !Self.isBlank(text[end]), !Self.endsAlias(text[end]) { end += 1 }
                    var next = end
                    while next < text.count, Self.isBlank(text[next]) { next += 1 }
                    if next < text.count, text[next] == UInt8(ascii: ":") {
                        return problem(at: index, "an alias is used as a mapping key; expected plain keys")
                    }
                case UInt8(ascii: "|"), UInt8(ascii: ">"):
                    var after = index + 1
                    while after < text.count, Self.isIndicator(text[after]) { after += 1 }
                    while after < text.count, Self.isBlank(text[after]) { after += 1 }
                    if after == text.count || text[after] == UInt8(ascii: "#") {
                        blockIndent = indent
                        return nil
                    }
                default:
                    break
                }
            }
            previous = byte
            index += 1
        }
        return nil
    }

    private func problem(at index: Int, _ message: String) -> HierarchyProblem {
        .error(SourceLocation(line: line, column: index + 1), message)
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
    }

    /// Flow and block indicators after which a new token starts.
    private static func startsToken(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") || byte == UInt8(ascii: ",")
    }

    private static func endsAlias(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ",") || byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}")
            || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{")
    }

    /// Block scalar header indicators: chomping and indentation.
    private static func isIndicator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || (48...57).contains(byte)
    }
}
