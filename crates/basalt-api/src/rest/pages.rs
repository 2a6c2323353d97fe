//! The pages e-mail links open: verify an address, choose a new password, and the result pages
//! (`{mount}/apps/...`, as Parse's public router serves them).

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use basalt_engine::MailSettings;
use basalt_mail::links::choose_password_link;
use basalt_mail::pages::render;
use basalt_mail::{Page, PageContext, PageQuery, page_link};

use crate::AppState;
use crate::error::ApiError;

type Params = HashMap<String, String>;

fn settings(state: &AppState, app_id: &str) -> Result<MailSettings, ApiError> {
    if app_id != state.keys.app_id {
        return Err(ApiError::Unauthorized);
    }
    state.engine.config().mail.clone().ok_or_else(|| {
        ApiError::Parse(basalt_core::ParseError::new(
            basalt_core::ErrorCode::ObjectNotFound,
            "Not found.",
        ))
    })
}

fn param<'a>(p: &'a Params, k: &str) -> &'a str {
    p.get(k).map(String::as_str).unwrap_or_default()
}

/// GET /apps/{appId}/verify_email?token&username
pub(crate) async fn verify_email(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let mail = settings(&state, &app_id)?;
    let (token, username) = (param(&q, "token"), param(&q, "username"));
    if token.is_empty() || username.is_empty() {
        return Ok(
            Redirect::to(&page_link(&mail.public_url, Page::InvalidLink, &[])).into_response(),
        );
    }
    let target = if state.engine.verify_email(username, token).await? {
        page_link(
            &mail.public_url,
            Page::VerifyEmailSuccess,
            &[("username", username)],
        )
    } else {
        page_link(
            &mail.public_url,
            Page::InvalidVerificationLink,
            &[("username", username), ("appId", &app_id)],
        )
    };
    Ok(Redirect::to(&target).into_response())
}

/// GET /apps/{appId}/request_password_reset?token&username: on to the form, or the invalid page.
pub(crate) async fn reset_link(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let mail = settings(&state, &app_id)?;
    let (token, username) = (param(&q, "token"), param(&q, "username"));
    let target = if !username.is_empty() && state.engine.check_reset_token(username, token).await? {
        choose_password_link(
            &mail.public_url,
            &app_id,
            &mail.app_name,
            username,
            token,
            None,
        )
    } else {
        page_link(&mail.public_url, Page::InvalidLink, &[])
    };
    Ok(Redirect::to(&target).into_response())
}

/// POST /apps/{appId}/request_password_reset (form: username, token, new_password).
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    Form(form): Form<Params>,
) -> Result<Response, ApiError> {
    let mail = settings(&state, &app_id)?;
    let (username, token, pw) = (
        param(&form, "username"),
        param(&form, "token"),
        param(&form, "new_password"),
    );
    if username.is_empty() || token.is_empty() {
        return Ok(
            Redirect::to(&page_link(&mail.public_url, Page::InvalidLink, &[])).into_response(),
        );
    }
    let target = match state.engine.reset_password(username, token, pw).await {
        Ok(()) => page_link(
            &mail.public_url,
            Page::PasswordResetSuccess,
            &[("username", username)],
        ),
        Err(basalt_core::Error::Parse(e)) => choose_password_link(
            &mail.public_url,
            &app_id,
            &mail.app_name,
            username,
            token,
            Some(&e.message),
        ),
        Err(e) => return Err(e.into()),
    };
    Ok(Redirect::to(&target).into_response())
}

/// GET /apps/{page}: the HTML pages.
pub(crate) async fn page(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, ApiError> {
    let mail = settings(&state, &state.keys.app_id)?;
    let Some(page) = Page::from_file_name(&file) else {
        return Ok((StatusCode::NOT_FOUND, "Not found.").into_response());
    };
    let ctx = PageContext {
        app_name: &mail.app_name,
        app_id: &state.keys.app_id,
        public_url: &mail.public_url,
    };
    let query = PageQuery {
        username: q.get("username").map(String::as_str),
        token: q.get("token").map(String::as_str),
        error: q.get("error").map(String::as_str),
    };
    let html = render(page, &ctx, &query);
    Ok(([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response())
}
