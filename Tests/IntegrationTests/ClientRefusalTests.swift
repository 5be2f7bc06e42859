import Foundation
import SiteModel
import Testing

@testable import SiteClient

/// What a client does with a management point's words (docs/hardening.md, "The client"): it fetches only http(s) on
/// the offered host or its recorded address, HTTPS only when native, and prints no control character it was sent.
@Suite struct ClientRefusalTests {
    static let recorded: @Sendable (String) -> URL? = { host in
        host == "s01-dp.corp.contoso.com" ? URL(string: "http://127.0.0.1:40123") : nil
    }

    static func refusal(_ url: String, native: Bool = false) -> String? {
        OfferedURL.refusal(url, of: "s01-dp.corp.contoso.com", native: native, recorded)
    }

    @Test func onlyTheOfferedHostOrItsRecordedAddressOverHTTPOrHTTPSIsFetched() {
        #expect(Self.refusal("http://127.0.0.1:40123/SMS_DP_SMSPKG$/CEN00002/") == nil)
        #expect(Self.refusal("http://s01-dp.corp.contoso.com/SMS_DP_SMSPKG$/CEN00002/") == nil)
        #expect(Self.refusal("https://S01-DP.corp.contoso.com:443/SMS_DP_SMSPKG$/CEN00002/") == nil)
        for hostile in [
            "http+unix://%2Frun%2Fsiteloc.sock/x", "file:///etc/passwd", "ftp://s01-dp.corp.contoso.com/x",
            "http://127.0.0.1:40124/x", "http://169.254.169.254/latest/meta-data", "http://evil.example/x",
            "not a url", "//s01-dp.corp.contoso.com/x", "http://s01-dp.corp.contoso.com.evil.example/x",
        ] {
            #expect(Self.refusal(hostile) != nil, "\(hostile)")
        }
    }

    @Test func aNativeClientRefusesPlainHTTP() {
        #expect(Self.refusal("http://s01-dp.corp.contoso.com/x", native: true)?.contains("HTTPS only") == true)
        #expect(Self.refusal("https://s01-dp.corp.contoso.com/x", native: true) == nil)
    }

    @Test func controlCharactersFromAPeerAreEscaped() {
        let forged = "ok\u{1B}[2K\rstatus: complete\u{7}\u{85}\u{2028}"
        let escaped = UntrustedText.escape(forged)
        #expect(!escaped.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        #expect(escaped == "ok\\u{1b}[2K\\u{d}status: complete\\u{7}\\u{85}\\u{2028}")
        #expect(UntrustedText.escape("plain text, ünïcode") == "plain text, ünïcode")
    }
}
