//! basalt-mail: the outbound e-mail port and everything Parse's e-mail flows show a person.
//!
//! - [`mailer`]: the [`Mailer`] trait, the [`Mail`] it sends, and [`LogMailer`] for development.
//! - [`smtp`]: [`SmtpMailer`] (lettre over rustls) and its [`SmtpConfig`], read from a URL.
//! - [`templates`]: the verification and password-reset messages, as Parse sends them.
//! - [`links`]: the URLs those messages carry and the pages they lead to, on Parse's paths.
//! - [`pages`]: the HTML pages behind those links (choose a password, success, invalid link,
//!   resend verification), as pure functions.
//! - [`error`]: [`MailError`] and its mapping into `basalt_core::Error`.
//!
//! This crate knows no HTTP server, no store and no user model: the engine decides who gets a
//! mail and which token it carries; this crate words it, links it and delivers it.

pub mod error;
pub mod links;
pub mod mailer;
pub mod pages;
pub mod smtp;
pub mod templates;

mod encode;

pub use error::MailError;
pub use links::{Page, page_link, password_reset_link, verify_email_link};
pub use mailer::{LogMailer, Mail, Mailer, from_url};
pub use pages::{PageContext, PageQuery};
pub use smtp::{SmtpConfig, SmtpMailer, SmtpTls};
pub use templates::{EmailContext, password_reset_email, verification_email};
