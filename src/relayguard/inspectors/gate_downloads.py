"""Which URLs a download command (curl, wget, fetch, aria2c, httpie, iwr/irm) fetches."""

from __future__ import annotations

from relayguard import shell

DOWNLOADERS = frozenset({
    "curl", "curlie", "wget", "wget2", "fetch", "aria2c",
    "invoke-webrequest", "iwr", "invoke-restmethod", "irm",
    "http", "https", "xh", "xhs",  # httpie / xh
})


_CURL_SHORT_ARG = "AbcCdDeEFHmoPQrTtuUwxXyYz"
_CURL_LONG_ARG = frozenset("""
abstract-unix-socket alt-svc aws-sigv4 cacert capath cert cert-type ciphers connect-timeout
connect-to continue-at cookie cookie-jar create-file-mode crlfile curves data data-ascii
data-binary data-raw data-urlencode delegation dns-interface dns-ipv4-addr dns-ipv6-addr
dns-servers doh-url dump-header ech egd-file engine etag-compare etag-save expect100-timeout
form form-string ftp-account ftp-alternative-to-user ftp-method ftp-port ftp-ssl-ccc-mode
happy-eyeballs-timeout-ms haproxy-clientip header hostpubmd5 hostpubsha256 hsts interface
ip-tos json keepalive-time keepalive-cnt key key-type krb libcurl limit-rate local-port
login-options mail-auth mail-from mail-rcpt max-filesize max-redirs max-time netrc-file
noproxy oauth2-bearer output output-dir parallel-max pass pinnedpubkey preproxy proto
proto-default proto-redir proxy proxy-cacert proxy-capath proxy-cert proxy-cert-type
proxy-ciphers proxy-crlfile proxy-header proxy-key proxy-key-type proxy-pass
proxy-pinnedpubkey proxy-service-name proxy-tls13-ciphers proxy-tlsauthtype proxy-tlspassword
proxy-tlsuser proxy-user proxy1.0 pubkey quote random-file range rate referer request
request-target resolve retry retry-delay retry-max-time sasl-authzid service-name socks4
socks4a socks5 socks5-gssapi-service socks5-hostname speed-limit speed-time stderr
telnet-option tftp-blksize time-cond tls-max tls13-ciphers tlsauthtype tlspassword tlsuser
trace trace-ascii trace-config unix-socket upload-file url-query user user-agent variable
write-out vlan-priority
""".split())
_WGET_SHORT_ARG = "OoaePtTwUBQlARDIX"
_WGET_LONG_ARG = frozenset("""
output-document output-file append-output execute directory-prefix tries timeout wait
user-agent header base quota level accept reject domains exclude-domains include-directories
exclude-directories user password http-user http-password ftp-user ftp-password proxy-user
proxy-password post-data post-file body-data body-file method referer load-cookies
save-cookies ca-certificate ca-directory certificate certificate-type private-key
private-key-type limit-rate bind-address dns-timeout connect-timeout read-timeout waitretry
restrict-file-names progress compression secure-protocol cut-dirs default-page
local-encoding remote-encoding rejected-log warc-file use-askpass retry-on-http-error
report-speed dns-servers bind-dns-address accept-regex reject-regex regex-type
""".split())
_ARIA_SHORT_ARG = "dosxkjlt"
_FETCH_SHORT_ARG = "oTNSBhc"
_HTTPIE_SHORT_ARG = "aoApsv"
_HTTPIE_LONG_ARG = frozenset("""
auth auth-type output session session-read-only verify cert cert-key cert-key-pass proxy
timeout max-redirects print pretty style format-options response-charset response-mime
ssl ciphers boundary chunked
""".split())
_UNKNOWN_SOURCES = {  # options that read the URLs from somewhere we cannot see
    "curl": ("-K", "--config"),
    "wget": ("-i", "--input-file", "--config"),
    "wget2": ("-i", "--input-file", "--config"),
    "aria2c": ("-i", "--input-file", "--conf-path"),
}
_PS_VALUE_PARAMS = (
    "uri", "outfile", "method", "headers", "body", "contenttype", "useragent", "proxy",
    "proxycredential", "credential", "infile", "websession", "sessionvariable", "timeoutsec",
    "maximumredirection", "maximumretrycount", "retryintervalsec", "certificatethumbprint",
    "certificate", "transferencoding", "form", "custommethod", "httpversion", "authentication",
    "token", "connectiontimeoutseconds", "operationtimeoutseconds", "responseheaderstvariable",
    "statuscodevariable",
)
_PS_SWITCHES = (
    "usebasicparsing", "useb", "usedefaultcredentials", "disablekeepalive", "passthru",
    "skipcertificatecheck", "skipheadervalidation", "allowunencryptedauthentication", "noproxy",
    "preserveauthorizationonredirect", "skiphttperrorcheck", "resume", "allowinsecureredirect",
    "preservehttpmethodonredirect",
)


def download_targets(cmd: shell.Command) -> tuple[list[str], list[str]]:
    """(URL words, words that make the URL impossible to determine statically)."""
    argv = cmd.argv
    prog = cmd.program
    unresolved = set(cmd.unresolved)
    urls: list[str] = []
    unknown: list[str] = []
    n = len(argv)

    def take(i: int) -> None:
        if i in unresolved:
            unknown.append(argv[i])
        else:
            urls.append(argv[i])

    if prog in ("invoke-webrequest", "iwr", "invoke-restmethod", "irm"):
        i = 1
        while i < n:
            a = argv[i]
            if a.startswith("-") and len(a) > 1:
                name = a[1:].rstrip(":").lower()
                if i in unresolved:
                    unknown.append(a)
                    i += 1
                    continue
                if any(s.startswith(name) for s in _PS_SWITCHES) and \
                        not any(v.startswith(name) for v in _PS_VALUE_PARAMS):
                    i += 1
                    continue
                if "uri".startswith(name) and i + 1 < n:
                    take(i + 1)
                i += 2
                continue
            take(i)
            i += 1
        if not urls and not unknown:
            unknown.append("(no URL)")
        return urls, unknown

    httpie = prog in ("http", "https", "xh", "xhs")
    if prog in ("curl", "curlie"):
        short_arg, long_arg = _CURL_SHORT_ARG, _CURL_LONG_ARG
    elif prog in ("wget", "wget2"):
        short_arg, long_arg = _WGET_SHORT_ARG, _WGET_LONG_ARG
    elif prog == "aria2c":
        short_arg, long_arg = _ARIA_SHORT_ARG, frozenset()
    elif httpie:
        short_arg, long_arg = _HTTPIE_SHORT_ARG, _HTTPIE_LONG_ARG
    else:  # fetch
        short_arg, long_arg = _FETCH_SHORT_ARG, frozenset()
    unknown_opts = _UNKNOWN_SOURCES.get(prog, ())
    seen_method = False
    i = 1
    while i < n:
        a = argv[i]
        if i in unresolved and a.startswith("$"):
            unknown.append(a)  # an option or a URL: we cannot tell
            i += 1
            continue
        if a == "--":
            for k in range(i + 1, n):
                take(k)
            break
        if a.startswith("--") and len(a) > 2:
            key, eq, value = a[2:].partition("=")
            if "--" + key in unknown_opts:
                unknown.append(a)
            if key == "url":
                if eq:
                    if i in unresolved:
                        unknown.append(a)
                    else:
                        urls.append(value)
                elif i + 1 < n:
                    take(i + 1)
                    i += 1
            elif key in long_arg and not eq:
                i += 1
            i += 1
            continue
        if a.startswith("-") and len(a) > 1:
            step = 1
            for j in range(1, len(a)):
                ch = a[j]
                if "-" + ch in unknown_opts:
                    unknown.append(a)
                if ch in short_arg:
                    if j == len(a) - 1:
                        step = 2
                    break
            i += step
            continue
        if httpie:
            if not seen_method and a.isalpha() and a.isupper():
                seen_method = True
                i += 1
                continue
            take(i)
            break  # the rest are request items
        take(i)
        i += 1
    if not urls and not unknown:
        unknown.append("(no URL)")
    return urls, unknown
