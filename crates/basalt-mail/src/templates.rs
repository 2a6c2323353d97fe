//! The two messages Parse's user flows send: "verify your e-mail" (after sign-up, an e-mail
//! change, or `POST /verificationEmailRequest`) and "reset your password"
//! (`POST /requestPasswordReset`). Each is plain text with an HTML alternative; the wording is
//! ours, the facts each carries are Parse's (app name, address or username, the link).
//!
//! The link arrives ready-made (see [`crate::links`]); nothing here stores or checks tokens.

#[cfg(test)]
mod tests;

use crate::encode::html;
use crate::mailer::Mail;

/// What a user e-mail is about: whose account, at which app, and the link to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailContext<'a> {
    /// The app's display name (Parse's `appName`).
    pub app_name: &'a str,
    /// The user's username; may be empty.
    pub username: &'a str,
    /// The address the mail goes to: the user's `email`, or, for a password reset of a user
    /// who has none, the username (Parse sends there when the username is the address).
    pub email: &'a str,
    /// The verification or password-reset link, from [`crate::links`].
    pub link: &'a str,
}

/// The "verify your e-mail address" message for `ctx.email`.
pub fn verification_email(ctx: &EmailContext<'_>) -> Mail {
    let app = one_line(ctx.app_name);
    let text = format!(
        "Hello,\n\n\
         Please confirm that {email} is your e-mail address for {app} by opening this link:\n\n\
         {link}\n\n\
         If you did not sign up for {app} or change your address there, you can ignore this \
         message.\n",
        email = ctx.email,
        link = ctx.link,
    );
    let body = format!(
        "<p>Hello,</p>\
         <p>Please confirm that <strong>{email}</strong> is your e-mail address for {app}.</p>\
         <p><a href=\"{link}\">Confirm my e-mail address</a></p>\
         <p style=\"color:#666\">Or copy this link into your browser:<br>{link}</p>\
         <p style=\"color:#666\">If you did not sign up for {app} or change your address there, \
         you can ignore this message.</p>",
        email = html(ctx.email),
        app = html(&app),
        link = html(ctx.link),
    );
    Mail {
        to: ctx.email.to_owned(),
        subject: format!("Confirm your e-mail address for {app}"),
        text,
        html: Some(html_document(&body)),
    }
}

/// The "reset your password" message for `ctx.email`.
pub fn password_reset_email(ctx: &EmailContext<'_>) -> Mail {
    let app = one_line(ctx.app_name);
    let account = if ctx.username.is_empty() {
        String::new()
    } else {
        format!(" (username: {})", ctx.username)
    };
    let text = format!(
        "Hello,\n\n\
         Someone asked to reset the password of your {app} account{account}.\n\n\
         To choose a new password, open this link:\n\n\
         {link}\n\n\
         If it was not you, ignore this message: your password stays as it is.\n",
        link = ctx.link,
    );
    let account_html = if ctx.username.is_empty() {
        String::new()
    } else {
        format!(" (username: <strong>{}</strong>)", html(ctx.username))
    };
    let body = format!(
        "<p>Hello,</p>\
         <p>Someone asked to reset the password of your {app} account{account_html}.</p>\
         <p><a href=\"{link}\">Choose a new password</a></p>\
         <p style=\"color:#666\">Or copy this link into your browser:<br>{link}</p>\
         <p style=\"color:#666\">If it was not you, ignore this message: your password stays as \
         it is.</p>",
        app = html(&app),
        link = html(ctx.link),
    );
    Mail {
        to: ctx.email.to_owned(),
        subject: format!("Reset your password for {app}"),
        text,
        html: Some(html_document(&body)),
    }
}

/// `value` with line breaks and other control characters turned into spaces, for the subject
/// line and the places the app name is quoted inline.
fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn html_document(body: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>\
         <body style=\"font-family:sans-serif;line-height:1.5;color:#222\">{body}</body></html>"
    )
}
