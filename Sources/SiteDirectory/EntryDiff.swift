public import LDAPKit

/// One change that brings an entry to what it should be.
public enum DirectoryChange: Sendable, Hashable {
    case add(DesiredEntry)
    case modify(DistinguishedName, [LDAPModification])
    case delete(DistinguishedName)

    public var dn: DistinguishedName {
        switch self {
        case .add(let entry): entry.dn
        case .modify(let dn, _), .delete(let dn): dn
        }
    }
}

/// The changes that turn the entries present into the entries wanted: add what is missing, replace attributes
/// whose values differ, remove attributes and entries no longer wanted. Applying them twice changes nothing the
/// second time, and an interrupted run is finished by running again.
public enum EntryDiff {
    /// `unmanaged` attributes are left as they are when the wanted entry does not have them (for example the
    /// site's key, which its site server writes).
    public static func changes(
        wanted: [DesiredEntry],
        present: [LDAPEntry],
        unmanaged: Set<String> = []
    ) -> [DirectoryChange] {
        var presentByKey: [String: LDAPEntry] = [:]
        for entry in present {
            guard let dn = try? entry.distinguishedName else { continue }
            presentByKey[dn.caseInsensitiveKey] = entry
        }
        var changes: [DirectoryChange] = []
        var wantedKeys = Set<String>()
        let ignored = Set(unmanaged.map { $0.lowercased() })
        for entry in wanted {
            let key = entry.dn.caseInsensitiveKey
            wantedKeys.insert(key)
            guard let current = presentByKey[key] else {
                changes.append(.add(entry))
                continue
            }
            var modifications: [LDAPModification] = []
            let wantedNames = Set(entry.attributes.map { $0.name.lowercased() })
            for attribute in entry.attributes {
                let have = Set(current.attribute(attribute.name)?.values ?? [])
                if have != Set(attribute.values) { modifications.append(LDAPModification(.replace, attribute)) }
            }
            for attribute in current.attributes
            where !wantedNames.contains(attribute.name.lowercased()) && !ignored.contains(attribute.name.lowercased()) {
                modifications.append(LDAPModification(.delete, LDAPAttribute(attribute.name, values: [])))
            }
            if !modifications.isEmpty { changes.append(.modify(entry.dn, modifications)) }
        }
        for entry in present {
            guard let dn = try? entry.distinguishedName, !wantedKeys.contains(dn.caseInsensitiveKey) else { continue }
            changes.append(.delete(dn))
        }
        return changes
    }
}
