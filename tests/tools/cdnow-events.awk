# cdnow-events.awk — turns the CDNOW purchase file into churnwatch events (POSIX awk; runs
# under mawk, Debian's default awk: no gawk-only functions, no rand()).
#
# Input: tests/data/cdnow/CDNOW_sample.txt (customer_id sample_id date cds dollars, no
# header) or CDNOW_master.txt (customer_id date cds dollars, one header line); the format
# is told apart by the field count, and lines whose first field is not a number (the
# header) are skipped. Both files have CRLF line ends and are sorted by customer, then date.
#
# Output, one event per line, in file order:
#   KEY<TAB>JSON        default: kcat input for `kcat -P -K '\t'` (KEY = customer id)
#   JSON                with -v plain=1 (an events.jsonl for `churnwatch replay`)
#   TS<TAB>...          with -v sortable=1, the line above prefixed by the event's ts, so
#                       `LC_ALL=C sort -s -t "$TAB" -k1,1 | cut -f2-` gives a globally
#                       time-ordered stream that keeps file order within one timestamp
#
# Modes:
#   (default)           one "order" event per line of the file:
#     {"type":"order","customer_id":"c00001","ts":"1997-01-01T12:00:00Z",
#      "order_id":"c00001-1","amount":11.77,"event_id":"o-c00001-1"}
#     The n-th line of a customer is order c<id>-<n>; several lines of one customer on one
#     day are separate orders at 12:00, 12:01, ...
#   -v complaints=1     generated complaints (the data has none): for ~3% of customers a
#     complaint.opened between two of their orders (or within 30 days after the only one),
#     and for ~2 in 3 of those a complaint.resolved 1..7 days later; ~1% of all customers
#     have a complaint that is never resolved. Everything is derived from a hash of the
#     customer id, so the output is the same on every run and every awk:
#     {"type":"complaint.opened","customer_id":"c00042","ts":"1997-03-05T09:00:00Z",
#      "complaint_id":"k-c00042-1","severity":"high","category":"delivery",
#      "event_id":"co-c00042-1"}
#     {"type":"complaint.resolved","customer_id":"c00042","ts":"1997-03-09T16:00:00Z",
#      "complaint_id":"k-c00042-1","event_id":"cr-c00042-1"}
#
# Usage:
#   awk -f tests/tools/cdnow-events.awk tests/data/cdnow/CDNOW_sample.txt > orders.tsv
#   awk -v complaints=1 -f tests/tools/cdnow-events.awk CDNOW_sample.txt > complaints.tsv

BEGIN {
    TAB = "\t"
    HCHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_."
    nsev = split("low medium high critical", SEV, " ")
    ncat = split("delivery billing product service", CAT, " ")
    cur = ""
    bad = 0
}

# A deterministic hash of a string into [0, 2147483646]: a polynomial hash modulo the
# Mersenne prime 2^31-1, then two Park-Miller steps to spread it. Every intermediate
# stays below 2^53, so doubles (mawk's numbers) compute it exactly.
function hash(s,    h, i, c) {
    h = 7
    for (i = 1; i <= length(s); i++) {
        c = index(HCHARS, substr(s, i, 1))
        h = (h * 31 + c + 1) % 2147483647
    }
    h = (h * 48271) % 2147483647
    h = (h * 48271) % 2147483647
    return h
}

# Days since 1970-01-01 for a YYYYMMDD date (proleptic Gregorian; Hinnant's algorithm).
function day_number(ymd,    y, m, d, era, yoe, doy, doe) {
    y = int(ymd / 10000); m = int(ymd / 100) % 100; d = ymd % 100
    if (m <= 2) y--
    era = int((y >= 0 ? y : y - 399) / 400)
    yoe = y - era * 400
    doy = int((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1
    doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
    return era * 146097 + doe - 719468
}

# "YYYY-MM-DD" for a day number (the inverse of day_number).
function date_string(z,    era, doe, yoe, y, doy, mp, d, m) {
    z += 719468
    era = int((z >= 0 ? z : z - 146096) / 146097)
    doe = z - era * 146097
    yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
    y = yoe + era * 400
    doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
    mp = int((5 * doy + 2) / 153)
    d = doy - int((153 * mp + 2) / 5) + 1
    m = mp < 10 ? mp + 3 : mp - 9
    if (m <= 2) y++
    return sprintf("%04d-%02d-%02d", y, m, d)
}

function emit(key, ts, json) {
    if (!plain)
        json = key TAB json
    if (sortable)
        json = ts TAB json
    print json
}

# Complaint events for the customer whose orders are in ND[1..n] (day numbers).
function flush_complaints(id, n,    h, i, gap, day, ts, rts, cid) {
    if (n == 0)
        return
    h = hash(id)
    if (h % 100 >= 3)
        return                      # ~97% of customers never complain
    if (n >= 2) {
        i = 1 + int(h / 100) % (n - 1)
        gap = ND[i + 1] - ND[i]
        day = ND[i] + (gap > 0 ? int(h / 1000) % gap : 0)
    } else {
        day = ND[1] + 1 + int(h / 1000) % 30
    }
    cid = "k-" id "-1"
    ts = date_string(day) "T" sprintf("%02d", 9 + int(h / 7) % 3) ":00:00Z"
    emit(id, ts, "{\"type\":\"complaint.opened\",\"customer_id\":\"" id "\",\"ts\":\"" ts \
         "\",\"complaint_id\":\"" cid "\",\"severity\":\"" SEV[1 + int(h / 11) % nsev] \
         "\",\"category\":\"" CAT[1 + int(h / 13) % ncat] "\",\"event_id\":\"co-" id "-1\"}")
    if (h % 100 == 0)
        return                      # ~1% of all customers: never resolved
    rts = date_string(day + 1 + int(h / 17) % 7) "T16:00:00Z"
    emit(id, rts, "{\"type\":\"complaint.resolved\",\"customer_id\":\"" id "\",\"ts\":\"" \
         rts "\",\"complaint_id\":\"" cid "\",\"event_id\":\"cr-" id "-1\"}")
}

# The files have DOS line ends.
{ sub(/\r$/, "") }

# Skip the master file's header (and anything else that is not a data line).
$1 !~ /^[0-9]+$/ { next }

{
    if (NF == 5) {
        date = $3
    } else if (NF == 4) {
        date = $2
    } else {
        bad++
        next
    }
    amount = $NF
    if (date !~ /^[0-9][0-9][0-9][0-9][01][0-9][0-3][0-9]$/ || amount !~ /^[0-9]+(\.[0-9]+)?$/) {
        bad++
        next
    }
    id = "c" $1
    if (id != cur) {
        if (complaints)
            flush_complaints(cur, norders)
        cur = id
        norders = 0
        lastdate = ""
    }
    norders++
    same = (date == lastdate) ? same + 1 : 0
    lastdate = date
    if (complaints) {
        ND[norders] = day_number(date + 0)
        next
    }
    ts = sprintf("%s-%s-%sT%02d:%02d:00Z", substr(date, 1, 4), substr(date, 5, 2),
                 substr(date, 7, 2), 12 + int(same / 60), same % 60)
    oid = id "-" norders
    emit(id, ts, "{\"type\":\"order\",\"customer_id\":\"" id "\",\"ts\":\"" ts \
         "\",\"order_id\":\"" oid "\",\"amount\":" amount ",\"event_id\":\"o-" oid "\"}")
}

END {
    if (complaints)
        flush_complaints(cur, norders)
    if (bad > 0)
        printf("cdnow-events.awk: skipped %d malformed line(s)\n", bad) > "/dev/stderr"
}
