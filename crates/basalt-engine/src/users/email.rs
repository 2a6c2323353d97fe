//! E-mail verification and password reset: tokens kept in Parse's hidden user fields
//! (`_email_verify_token`, `_perishable_token`), mails sent through the Mailer port after the
//! answer (a slow mail server never delays a request), and the checks the pages' links call.

use std::sync::Arc;

use basalt_auth::token::{constant_time_eq, new_secret};
use basalt_core::ops::{FieldChange, Op, Patch};
use basalt_core::time::now_iso;
use basalt_core::{ErrorCode, ParseError, Result};
use basalt_mail::{
    EmailContext, Mailer, password_reset_email, password_reset_link, verification_email,
    verify_email_link,
};
use basalt_store::{StoredObject, Write};
use serde_json::Value;

use crate::Engine;

/// Where and how the engine sends mail (Parse's `emailAdapter`, `appName`, `publicServerURL`).
#[derive(Clone)]
pub struct MailSettings {
    /// The mailer.
    pub mailer: Arc<dyn Mailer>,
    /// The app's display name.
    pub app_name: String,
    /// The public URL with the mount path.
    pub public_url: String,
    /// The application id (links carry it).
    pub app_id: String,
    /// Send a verification mail on sign-up and e-mail change (Parse's `verifyUserEmails`).
    pub verify_user_emails: bool,
    /// Refuse log-in until the e-mail is verified (Parse's `preventLoginWithUnverifiedEmail`).
    pub prevent_login_with_unverified_email: bool,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("app_name", &self.app_name)
            .field("public_url", &self.public_url)
            .finish()
    }
}

const VERIFY_TOKEN: &str = "_email_verify_token";
const RESET_TOKEN: &str = "_perishable_token";

fn not_configured() -> ParseError {
    ParseError::new(
        ErrorCode::InternalServerError,
        "An appName, publicServerURL, and emailAdapter are required for password reset and email verification functionality.",
    )
}

fn email_arg(email: Option<&Value>) -> Result<String> {
    match email {
        None | Some(Value::Null) => {
            Err(ParseError::new(ErrorCode::EmailMissing, "you must provide an email").into())
        }
        Some(Value::String(e)) if !e.is_empty() => Ok(e.clone()),
        Some(_) => Err(ParseError::new(
            ErrorCode::InvalidEmailAddress,
            "you must provide a valid email string",
        )
        .into()),
    }
}

fn field_str<'a>(user: &'a StoredObject, key: &str) -> &'a str {
    user.fields
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

impl Engine {
    fn mail(&self) -> Result<&MailSettings> {
        self.config
            .mail
            .as_ref()
            .ok_or_else(|| not_configured().into())
    }

    async fn set_user_fields(&self, user: &StoredObject, changes: Vec<FieldChange>) -> Result<()> {
        let write = Write::Update {
            class: "_User".into(),
            object_id: user.object_id.clone(),
            patch: Patch { changes },
            updated_at: now_iso(),
            relations: vec![],
            writers: None,
        };
        self.commit(vec![write])
            .await
            .map(|_| ())
            .map_err(|(_, e)| e)
    }

    fn send_later(&self, mailer: Arc<dyn Mailer>, mail: basalt_mail::Mail) {
        tokio::spawn(async move {
            if let Err(e) = mailer.send(mail).await {
                tracing::error!(error = %e, "could not send mail");
            }
        });
    }

    /// The hidden fields a sign-up sets when e-mails are verified.
    pub(crate) fn verification_fields(&self) -> Option<(String, Value)> {
        self.config
            .mail
            .as_ref()
            .filter(|m| m.verify_user_emails)
            .map(|_| (VERIFY_TOKEN.to_owned(), Value::String(new_secret(25))))
    }

    /// Sends the verification mail of a user that has a pending token (after sign-up).
    pub(crate) async fn send_verification_if_pending(&self, user_id: &str) -> Result<()> {
        let Some(mail) = self.config.mail.clone() else {
            return Ok(());
        };
        let Some(user) = self.find_user_by("objectId", user_id).await? else {
            return Ok(());
        };
        let (token, email) = (field_str(&user, VERIFY_TOKEN), field_str(&user, "email"));
        if token.is_empty() || email.is_empty() {
            return Ok(());
        }
        let username = field_str(&user, "username");
        let link = verify_email_link(&mail.public_url, &mail.app_id, username, token);
        let message = verification_email(&EmailContext {
            app_name: &mail.app_name,
            username,
            email,
            link: &link,
        });
        self.send_later(Arc::clone(&mail.mailer), message);
        Ok(())
    }

    /// `POST /verificationEmailRequest`.
    pub async fn request_verification_email(&self, email: Option<&Value>) -> Result<()> {
        self.mail()?;
        let email = email_arg(email)?;
        let user = self.find_user_by("email", &email).await?.ok_or_else(|| {
            ParseError::new(
                ErrorCode::EmailNotFound,
                format!("No user found with email {email}"),
            )
        })?;
        if user.fields.get("emailVerified") == Some(&Value::Bool(true)) {
            return Err(ParseError::new(
                ErrorCode::OtherCause,
                format!("Email {email} is already verified."),
            )
            .into());
        }
        let token = new_secret(25);
        self.set_user_fields(
            &user,
            vec![FieldChange {
                field: VERIFY_TOKEN.into(),
                sub: vec![],
                op: Op::Set(Value::String(token)),
            }],
        )
        .await?;
        self.send_verification_if_pending(&user.object_id).await
    }

    /// `POST /requestPasswordReset`: answers `{}` whether or not the address is known.
    pub async fn request_password_reset(&self, email: Option<&Value>) -> Result<()> {
        let mail = self.mail()?.clone();
        let email = email_arg(email)?;
        let user = match self.find_user_by("email", &email).await? {
            Some(u) => Some(u),
            None => self
                .find_user_by("username", &email)
                .await?
                .filter(|u| field_str(u, "email").is_empty()),
        };
        let Some(user) = user else { return Ok(()) };
        let token = new_secret(25);
        self.set_user_fields(
            &user,
            vec![FieldChange {
                field: RESET_TOKEN.into(),
                sub: vec![],
                op: Op::Set(Value::String(token.clone())),
            }],
        )
        .await?;
        let username = field_str(&user, "username");
        let to = if field_str(&user, "email").is_empty() {
            username
        } else {
            field_str(&user, "email")
        };
        let link = password_reset_link(&mail.public_url, &mail.app_id, username, &token);
        let message = password_reset_email(&EmailContext {
            app_name: &mail.app_name,
            username,
            email: to,
            link: &link,
        });
        self.send_later(Arc::clone(&mail.mailer), message);
        Ok(())
    }

    /// The verification link: marks the e-mail verified when the token matches.
    pub async fn verify_email(&self, username: &str, token: &str) -> Result<bool> {
        let Some(user) = self.find_user_by("username", username).await? else {
            return Ok(false);
        };
        if user.fields.get("emailVerified") == Some(&Value::Bool(true)) {
            return Ok(true);
        }
        let stored = field_str(&user, VERIFY_TOKEN);
        if stored.is_empty() || !constant_time_eq(stored, token) {
            return Ok(false);
        }
        self.set_user_fields(
            &user,
            vec![
                FieldChange {
                    field: "emailVerified".into(),
                    sub: vec![],
                    op: Op::Set(Value::Bool(true)),
                },
                FieldChange {
                    field: VERIFY_TOKEN.into(),
                    sub: vec![],
                    op: Op::Delete,
                },
            ],
        )
        .await?;
        Ok(true)
    }

    /// True when a password-reset token is valid for the user.
    pub async fn check_reset_token(&self, username: &str, token: &str) -> Result<bool> {
        let Some(user) = self.find_user_by("username", username).await? else {
            return Ok(false);
        };
        let stored = field_str(&user, RESET_TOKEN);
        Ok(!stored.is_empty() && !token.is_empty() && constant_time_eq(stored, token))
    }

    /// Sets a new password through a reset token; ends the user's sessions.
    pub async fn reset_password(
        &self,
        username: &str,
        token: &str,
        new_password: &str,
    ) -> Result<()> {
        let invalid = || {
            ParseError::new(
                ErrorCode::OtherCause,
                "Failed to reset password: the link is invalid or expired.",
            )
        };
        let user = self
            .find_user_by("username", username)
            .await?
            .ok_or_else(invalid)?;
        let stored = field_str(&user, RESET_TOKEN);
        if stored.is_empty() || !constant_time_eq(stored, token) {
            return Err(invalid().into());
        }
        if new_password.is_empty() {
            return Err(ParseError::new(ErrorCode::PasswordMissing, "password is required").into());
        }
        self.check_password_policy(new_password, Some(username), Some(&user))
            .await?;
        let hashed = basalt_auth::password::hash_async(new_password.to_owned()).await?;
        self.set_user_fields(
            &user,
            vec![
                FieldChange {
                    field: "_hashed_password".into(),
                    sub: vec![],
                    op: Op::Set(Value::String(hashed)),
                },
                FieldChange {
                    field: RESET_TOKEN.into(),
                    sub: vec![],
                    op: Op::Delete,
                },
            ],
        )
        .await?;
        self.revoke_sessions(&user.object_id, None).await
    }

    /// Refuses log-in of an unverified address when the app asks for that.
    pub(crate) fn check_verified_for_login(&self, user: &StoredObject) -> Result<()> {
        let required = self
            .config
            .mail
            .as_ref()
            .is_some_and(|m| m.prevent_login_with_unverified_email);
        if required && user.fields.get("emailVerified") != Some(&Value::Bool(true)) {
            return Err(
                ParseError::new(ErrorCode::EmailNotFound, "User email is not verified.").into(),
            );
        }
        Ok(())
    }
}
