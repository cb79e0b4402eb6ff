//! The audit trail: one structured event per key, presign or SPEKE request, issued or refused, on
//! the tracing target `blindcast_keys::audit`. Events carry ids and outcomes, never key
//! bytes, tokens, URLs or credentials. The fields and their order are the format: the
//! server's text log writes these events on a fast path of its own, byte for byte as the
//! generic formatter would.

/// The tracing target of audit events.
pub const AUDIT_TARGET: &str = "blindcast_keys::audit";

/// What a key request named, as far as it was known when it ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyIds<'a> {
    pub(crate) viewer: Option<&'a str>,
    pub(crate) content: Option<&'a str>,
    /// The master-key version asked for (1 when the URI names none), once parsed.
    pub(crate) kv: Option<u16>,
    pub(crate) epoch: Option<u64>,
    pub(crate) lease: Option<&'a str>,
}

/// A key request's event. `refusal` is the error code, or `None` when the key was issued.
pub(crate) fn key(refusal: Option<&str>, status: u16, ids: KeyIds<'_>, latency_us: u64) {
    let KeyIds {
        viewer,
        content,
        kv,
        epoch,
        lease,
    } = ids;
    match refusal {
        None => tracing::info!(
            target: AUDIT_TARGET,
            outcome = "issued",
            status,
            viewer,
            content,
            kv,
            epoch,
            lease,
            latency_us,
            "key issued"
        ),
        Some(reason) => tracing::info!(
            target: AUDIT_TARGET,
            outcome = "refused",
            reason,
            status,
            viewer,
            content,
            kv,
            epoch,
            lease,
            latency_us,
            "key refused"
        ),
    }
}

/// A presign request's event: counts of the URLs signed, never a URL.
pub(crate) fn presign(
    refusal: Option<&str>,
    status: u16,
    publisher: Option<&str>,
    content: Option<&str>,
    puts: usize,
    gets: usize,
    latency_us: u64,
) {
    match refusal {
        None => tracing::info!(
            target: AUDIT_TARGET,
            operation = "presign",
            outcome = "presigned",
            status,
            publisher,
            content,
            files = puts + gets,
            puts,
            gets,
            latency_us,
            "urls presigned"
        ),
        Some(reason) => tracing::info!(
            target: AUDIT_TARGET,
            operation = "presign",
            outcome = "refused",
            reason,
            status,
            publisher,
            content,
            latency_us,
            "presign refused"
        ),
    }
}

/// What a SPEKE request asked for, as far as it was known when it ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpekeIds<'a> {
    pub(crate) packager: Option<&'a str>,
    pub(crate) content: Option<&'a str>,
    /// The master-key version the keys were derived with (the primary).
    pub(crate) kv: Option<u16>,
    /// Content keys asked for, and their periods (`content` or the epochs).
    pub(crate) keys: usize,
    pub(crate) epochs: Option<&'a str>,
}

/// A SPEKE request's event: the packager, the content, how many keys and for which
/// periods (`content` and epochs), never a key.
pub(crate) fn speke(refusal: Option<&str>, status: u16, ids: SpekeIds<'_>, latency_us: u64) {
    let SpekeIds {
        packager,
        content,
        kv,
        keys,
        epochs,
    } = ids;
    match refusal {
        None => tracing::info!(
            target: AUDIT_TARGET,
            operation = "speke",
            outcome = "issued",
            status,
            packager,
            content,
            kv,
            keys,
            epochs,
            latency_us,
            "speke keys issued"
        ),
        Some(reason) => tracing::info!(
            target: AUDIT_TARGET,
            operation = "speke",
            outcome = "refused",
            reason,
            status,
            packager,
            content,
            latency_us,
            "speke refused"
        ),
    }
}
