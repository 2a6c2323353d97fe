//! The URLs of Parse's e-mail flows, on the paths Parse Server uses (its `PublicAPIRouter`,
//! the default router), under the server's public URL (`publicServerURL`, mount path
//! included, e.g. `https://example.com/parse`):
//!
//! | URL | method | what |
//! |---|---|---|
//! | `/apps/:appId/verify_email?token=…&username=…` | GET | the verification mail's link |
//! | `/apps/:appId/resend_verification_email` | POST | form field `username` |
//! | `/apps/:appId/request_password_reset?token=…&username=…` | GET | the reset mail's link |
//! | `/apps/:appId/request_password_reset` | POST | fields `username`, `token`, `new_password` |
//! | `/apps/choose_password?token=…&id=…&username=…&app=…` | GET | the new-password form |
//! | `/apps/<page>.html` | GET | result pages, see [`Page`] |
//!
//! Query values are encoded as JavaScript's `encodeURIComponent` does, as Parse does.

#[cfg(test)]
mod tests;

use crate::encode::uri_component;

/// The path segment Parse serves its pages under.
pub const PAGES_ENDPOINT: &str = "apps";

/// The pages the e-mail flows redirect to, each served at `/apps/<file_name>` (see
/// [`crate::pages::render`] for their content and the query parameters each reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Page {
    /// The new-password form (`choose_password`); reads `token`, `username`, `error`.
    ChoosePassword,
    /// The e-mail address was verified (`verify_email_success.html`); reads `username`.
    VerifyEmailSuccess,
    /// The password was changed (`password_reset_success.html`); reads `username`.
    PasswordResetSuccess,
    /// A link without token or username, or a password-reset link that is wrong or expired
    /// (`invalid_link.html`).
    InvalidLink,
    /// A verification link that is wrong or expired, with a form to send a new one
    /// (`invalid_verification_link.html`); reads `username`.
    InvalidVerificationLink,
    /// A new verification mail was sent (`link_send_success.html`).
    LinkSendSuccess,
    /// No verification mail was sent: unknown user or already verified (`link_send_fail.html`).
    LinkSendFail,
}

impl Page {
    /// Every page, for building the route table.
    pub const ALL: [Page; 7] = [
        Page::ChoosePassword,
        Page::VerifyEmailSuccess,
        Page::PasswordResetSuccess,
        Page::InvalidLink,
        Page::InvalidVerificationLink,
        Page::LinkSendSuccess,
        Page::LinkSendFail,
    ];

    /// The last path segment Parse serves this page at.
    pub fn file_name(self) -> &'static str {
        match self {
            Page::ChoosePassword => "choose_password",
            Page::VerifyEmailSuccess => "verify_email_success.html",
            Page::PasswordResetSuccess => "password_reset_success.html",
            Page::InvalidLink => "invalid_link.html",
            Page::InvalidVerificationLink => "invalid_verification_link.html",
            Page::LinkSendSuccess => "link_send_success.html",
            Page::LinkSendFail => "link_send_fail.html",
        }
    }

    /// The page served at `/apps/<name>`, if any.
    pub fn from_file_name(name: &str) -> Option<Page> {
        Page::ALL.into_iter().find(|page| page.file_name() == name)
    }
}

/// The link in the verification mail:
/// `{public_url}/apps/{app_id}/verify_email?token={token}&username={username}`.
pub fn verify_email_link(public_url: &str, app_id: &str, username: &str, token: &str) -> String {
    format!(
        "{}?token={}&username={}",
        app_url(public_url, app_id, "verify_email"),
        uri_component(token),
        uri_component(username)
    )
}

/// The link in the password-reset mail:
/// `{public_url}/apps/{app_id}/request_password_reset?token={token}&username={username}`.
pub fn password_reset_link(public_url: &str, app_id: &str, username: &str, token: &str) -> String {
    format!(
        "{}?token={}&username={}",
        password_reset_action(public_url, app_id),
        uri_component(token),
        uri_component(username)
    )
}

/// Where the new-password form posts: `{public_url}/apps/{app_id}/request_password_reset`.
pub fn password_reset_action(public_url: &str, app_id: &str) -> String {
    app_url(public_url, app_id, "request_password_reset")
}

/// Where the resend form posts: `{public_url}/apps/{app_id}/resend_verification_email`.
pub fn resend_verification_action(public_url: &str, app_id: &str) -> String {
    app_url(public_url, app_id, "resend_verification_email")
}

/// Where a valid reset link redirects, and where a failed reset returns with `error`:
/// `{public_url}/apps/choose_password?token=…&id={app_id}&username=…&app={app_name}[&error=…]`.
pub fn choose_password_link(
    public_url: &str,
    app_id: &str,
    app_name: &str,
    username: &str,
    token: &str,
    error: Option<&str>,
) -> String {
    let mut params = vec![
        ("token", token),
        ("id", app_id),
        ("username", username),
        ("app", app_name),
    ];
    params.extend(error.map(|e| ("error", e)));
    page_link(public_url, Page::ChoosePassword, &params)
}

/// `{public_url}/apps/{page}` with `params` as its query, in order. Parse's redirects use:
/// [`Page::VerifyEmailSuccess`] and [`Page::PasswordResetSuccess`] with `username`;
/// [`Page::InvalidVerificationLink`] with `username` and `appId`; the others with none.
pub fn page_link(public_url: &str, page: Page, params: &[(&str, &str)]) -> String {
    let mut url = format!("{}/{PAGES_ENDPOINT}/{}", base(public_url), page.file_name());
    for (i, (key, value)) in params.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(&uri_component(key));
        url.push('=');
        url.push_str(&uri_component(value));
    }
    url
}

fn app_url(public_url: &str, app_id: &str, action: &str) -> String {
    format!(
        "{}/{PAGES_ENDPOINT}/{}/{action}",
        base(public_url),
        uri_component(app_id)
    )
}

/// The public URL without trailing slashes, so joining never doubles one.
fn base(public_url: &str) -> &str {
    public_url.trim_end_matches('/')
}
