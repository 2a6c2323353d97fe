//! The HTML pages the e-mail links open, with the content Parse's default pages have: the
//! new-password form, the success pages, the invalid-link pages and the resend-verification
//! form. Pure functions from values to a complete HTML document: inline CSS, no external
//! assets, every interpolated value HTML-escaped. Where each page is served and which query
//! parameters it reads is in [`crate::links`]; [`render`] maps a [`Page`] and its query to HTML.
//!
//! Unlike Parse's static pages, which read the query string with JavaScript, these are
//! rendered on the server, so they work without JavaScript and post to the configured public
//! URL (Parse's resend form posts to `/apps/…` at the host root, which misses a mount path).
//! The app name always comes from configuration, never from the query.

#[cfg(test)]
mod tests;

use crate::encode::html;
use crate::links::{Page, password_reset_action, resend_verification_action};

/// The app a page speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageContext<'a> {
    /// The app's display name (Parse's `appName`).
    pub app_name: &'a str,
    /// The application id (forms post to `/apps/{app_id}/…`).
    pub app_id: &'a str,
    /// The server's public URL, mount path included (Parse's `publicServerURL`).
    pub public_url: &'a str,
}

/// The query parameters a page reads; absent and empty are the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageQuery<'a> {
    /// `username`
    pub username: Option<&'a str>,
    /// `token` (the password-reset token, for [`Page::ChoosePassword`])
    pub token: Option<&'a str>,
    /// `error` (why the last password change failed, for [`Page::ChoosePassword`])
    pub error: Option<&'a str>,
}

/// The HTML for `page` as served at `GET /apps/<page.file_name()>?<query>`. A
/// [`Page::ChoosePassword`] request without token or username gets the invalid-link page,
/// since the form could only fail.
pub fn render(page: Page, ctx: &PageContext<'_>, query: &PageQuery<'_>) -> String {
    let username = query.username.filter(|u| !u.is_empty());
    match page {
        Page::ChoosePassword => match (username, query.token.filter(|t| !t.is_empty())) {
            (Some(username), Some(token)) => {
                choose_password(ctx, username, token, query.error.filter(|e| !e.is_empty()))
            }
            _ => invalid_link(ctx),
        },
        Page::VerifyEmailSuccess => email_verified(ctx, username),
        Page::PasswordResetSuccess => password_reset_success(ctx, username),
        Page::InvalidLink => invalid_link(ctx),
        Page::InvalidVerificationLink => invalid_verification_link(ctx, username),
        Page::LinkSendSuccess => verification_link_sent(ctx),
        Page::LinkSendFail => verification_link_not_sent(ctx),
    }
}

/// The new-password form. Posts `username`, `token`, `new_password` (and
/// `confirm_new_password`, which the server ignores, as Parse does) as a urlencoded form to
/// `/apps/{app_id}/request_password_reset`. `error` is the reason the previous attempt failed.
pub fn choose_password(
    ctx: &PageContext<'_>,
    username: &str,
    token: &str,
    error: Option<&str>,
) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", html(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Choose a new password</h1>\
         <p>for <strong>{username}</strong> at {app}</p>\
         {error}\
         <form method=\"POST\" action=\"{action}\">\
         <input type=\"hidden\" name=\"username\" value=\"{username}\" autocomplete=\"username\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label for=\"new_password\">New password</label>\
         <input id=\"new_password\" name=\"new_password\" type=\"password\" \
         autocomplete=\"new-password\" required>\
         <label for=\"confirm_new_password\">Repeat the new password</label>\
         <input id=\"confirm_new_password\" name=\"confirm_new_password\" type=\"password\" \
         autocomplete=\"new-password\" required>\
         <button type=\"submit\">Change password</button>\
         </form>\
         <script>{CONFIRM_SCRIPT}</script>",
        username = html(username),
        app = html(ctx.app_name),
        token = html(token),
        action = html(&password_reset_action(ctx.public_url, ctx.app_id)),
    );
    layout(ctx, "Choose a new password", &body)
}

/// The e-mail address was verified.
pub fn email_verified(ctx: &PageContext<'_>, username: Option<&str>) -> String {
    let who = for_user(username);
    let body = format!(
        "<h1>E-mail address confirmed</h1>\
         <p>Thank you{who}. Your e-mail address for {} is now verified; you can close this page.</p>",
        html(ctx.app_name)
    );
    layout(ctx, "E-mail address confirmed", &body)
}

/// The password was changed.
pub fn password_reset_success(ctx: &PageContext<'_>, username: Option<&str>) -> String {
    let as_user = username
        .map(|u| format!(" as <strong>{}</strong>", html(u)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Password changed</h1>\
         <p>Your password for {} has been changed. You can sign in{as_user} with it now.</p>",
        html(ctx.app_name)
    );
    layout(ctx, "Password changed", &body)
}

/// A link that is incomplete, wrong, already used or expired (Parse's `invalid_link.html`).
pub fn invalid_link(ctx: &PageContext<'_>) -> String {
    let body = "<h1>This link is not valid</h1>\
                <p>It may be incomplete, already used, or expired. \
                Please ask for a new one from the app.</p>";
    layout(ctx, "Invalid link", body)
}

/// A verification link that is wrong or expired, with a button that asks for a new one
/// (posts `username` to `/apps/{app_id}/resend_verification_email`). Without a username there
/// is nothing to resend, so the button is left out.
pub fn invalid_verification_link(ctx: &PageContext<'_>, username: Option<&str>) -> String {
    let form = match username {
        Some(username) => format!(
            "<form method=\"POST\" action=\"{action}\">\
             <input type=\"hidden\" name=\"username\" value=\"{username}\">\
             <button type=\"submit\">Send me a new link</button>\
             </form>",
            action = html(&resend_verification_action(ctx.public_url, ctx.app_id)),
            username = html(username),
        ),
        None => "<p>Please ask for a new one from the app.</p>".to_owned(),
    };
    let body = format!(
        "<h1>This verification link is not valid</h1>\
         <p>It may be incomplete, already used, or expired.</p>{form}"
    );
    layout(ctx, "Invalid verification link", &body)
}

/// A new verification mail is on its way (Parse's `link_send_success.html`).
pub fn verification_link_sent(ctx: &PageContext<'_>) -> String {
    let body = "<h1>Link sent</h1><p>Check your inbox for a new verification e-mail.</p>";
    layout(ctx, "Link sent", body)
}

/// No verification mail was sent: the user is unknown or already verified (Parse's
/// `link_send_fail.html`).
pub fn verification_link_not_sent(ctx: &PageContext<'_>) -> String {
    let body = "<h1>No link sent</h1>\
                <p>Either no such user exists or the e-mail address is already verified.</p>";
    layout(ctx, "No link sent", body)
}

/// Keeps the form from submitting two different passwords; the server does not compare them.
const CONFIRM_SCRIPT: &str = "(function(){\
var p=document.getElementById('new_password'),c=document.getElementById('confirm_new_password');\
function check(){c.setCustomValidity(p.value===c.value?'':'The passwords do not match.');}\
p.addEventListener('input',check);c.addEventListener('input',check);})();";

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;\
background:#f4f5f7;color:#1f2328;margin:0;padding:48px 16px}\
main{max-width:420px;margin:0 auto;background:#fff;border-radius:8px;padding:32px;\
box-shadow:0 1px 3px rgba(0,0,0,.12)}\
h1{font-size:1.4rem;margin:0 0 12px}p{line-height:1.5}\
.app{color:#57606a;font-size:.9rem;margin:0 0 24px}\
.error{color:#b42318;background:#fef3f2;border-radius:6px;padding:8px 12px}\
label{display:block;margin:16px 0 4px;font-weight:600}\
input[type=password]{box-sizing:border-box;width:100%;padding:8px;font-size:1rem;\
border:1px solid #d0d7de;border-radius:6px}\
button{margin-top:24px;padding:10px 16px;font-size:1rem;color:#fff;background:#0969da;\
border:0;border-radius:6px;cursor:pointer}";

/// A whole document around `body`. The referrer policy keeps tokens in the page's URL from
/// leaking to any other site.
fn layout(ctx: &PageContext<'_>, title: &str, body: &str) -> String {
    let app = html(ctx.app_name);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title} · {app}</title><style>{STYLE}</style></head>\
         <body><main><p class=\"app\">{app}</p>{body}</main></body></html>\n",
        title = html(title),
    )
}

fn for_user(username: Option<&str>) -> String {
    username
        .map(|u| format!(", <strong>{}</strong>", html(u)))
        .unwrap_or_default()
}
