"""The queries Active Directory tools make for Configuration Manager objects, through ldap3 with schema checking.

Used by the integration tests: `python ad_tool_queries.py URI BASE AD_SITE SUBNET_ID ADDRESS_DECIMAL` prints JSON.
check_names=True makes ldap3 refuse any attribute or class name the server's schema does not define.
"""
import json
import sys

import ldap3

uri, base, ad_site, subnet_id, address = sys.argv[1:6]
server = ldap3.Server(uri, get_info=ldap3.ALL)
connection = ldap3.Connection(server, auto_bind=True, check_names=True)

result = {}
connection.search(
    base,
    "(objectClass=mSSMSManagementPoint)",
    attributes=["dNSHostName", "mSSMSSiteCode", "mSSMSMPName", "mSSMSDefaultMP", "mSSMSCapabilities", "mSSMSVersion"],
)
result["managementPoints"] = [
    {
        "dNSHostName": str(entry.dNSHostName),
        "mSSMSSiteCode": str(entry.mSSMSSiteCode),
        "mSSMSMPName": str(entry.mSSMSMPName),
        "mSSMSDefaultMP": bool(entry.mSSMSDefaultMP.value),
        "mSSMSCapabilities": str(entry.mSSMSCapabilities),
        "mSSMSVersion": int(entry.mSSMSVersion.value),
    }
    for entry in connection.entries
]
for name, value in (("byADSite", ad_site), ("bySubnet", subnet_id)):
    connection.search(base, f"(&(objectClass=mSSMSSite)(mSSMSRoamingBoundaries={value}))", attributes=["mSSMSSiteCode"])
    result[name] = [str(entry.mSSMSSiteCode) for entry in connection.entries]
connection.search(
    base,
    f"(&(objectClass=mSSMSRoamingBoundaryRange)(mSSMSRangedIPLow<={address})(mSSMSRangedIPHigh>={address}))",
    attributes=["mSSMSSiteCode", "mSSMSRangedIPLow", "mSSMSRangedIPHigh"],
)
result["byRange"] = [
    [str(entry.mSSMSSiteCode), int(entry.mSSMSRangedIPLow.value), int(entry.mSSMSRangedIPHigh.value)]
    for entry in connection.entries
]
print(json.dumps(result))
