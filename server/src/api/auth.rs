//! `/api/v1/auth/*` and `/api/v1/me`: sign-up, sign-in, sign-out, password.

use app::{
    accounts::{
        services::{accounts, orgs, sessions, users},
        types::Me,
    },
    error::{ErrorBody, Result},
    state::AppState,
};
use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use tower_sessions::Session;
use utoipa::ToSchema;

use super::{
    extract::{ApiJson, Origin, SignedIn},
    openapi::{ApiErrors, BodyErrors, Conflict, Throttled},
};

#[derive(Deserialize, ToSchema)]
pub struct SignupRequest {
    /// An email address (`local@domain.tld`, no blanks), compared in lower case.
    #[schema(format = "email", max_length = 254)]
    email: String,
    /// 10 to 256 characters, not a common password, not the email address.
    #[schema(min_length = 10, max_length = 256, pattern = r"^(?!(.)\1*$)")]
    password: String,
    /// 1 to 100 characters once trimmed; blank or absent: named after the email.
    #[schema(max_length = 100)]
    organization_name: Option<String>,
    /// An invitation secret: join that organization instead of creating one
    /// (the email must be the invited one). Blank or absent: none.
    invitation: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    email: String,
    password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    current_password: String,
    /// The rules of sign-up's password.
    #[schema(min_length = 10, max_length = 256, pattern = r"^(?!(.)\1*$)")]
    new_password: String,
}

async fn me_for(state: &AppState, user: &entity::user::Model) -> Result<Me> {
    Ok(Me {
        user: users::user_info(user),
        organizations: orgs::list_for_user(&state.db, user.id).await?,
    })
}

/// Creates an account (when sign-up is open, or with an invitation) and signs in.
#[utoipa::path(
    post, path = "/auth/signup", operation_id = "signup", tag = "auth",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "Signed in; the session cookie is set", body = Me),
        ApiErrors, Conflict, BodyErrors,
    ),
)]
pub async fn signup(
    State(state): State<AppState>,
    Origin(origin): Origin,
    session: Session,
    ApiJson(request): ApiJson<SignupRequest>,
) -> Result<(StatusCode, Json<Me>)> {
    let request = accounts::SignUpRequest {
        email: request.email,
        password: request.password,
        organization_name: request.organization_name,
        invitation: request.invitation,
    };
    let user = accounts::register(&state.db, state.accounts.open_signup, request, origin).await?;
    sessions::sign_in(&session, user.id).await?;
    Ok((StatusCode::CREATED, Json(me_for(&state, &user).await?)))
}

/// Signs in; failed attempts are throttled per address and account.
#[utoipa::path(
    post, path = "/auth/login", operation_id = "login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = Me),
        (status = 400, description = "The body is not a JSON login request", body = ErrorBody),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 403, description = "A cookie-authenticated request from another site", body = ErrorBody),
        BodyErrors, Throttled,
    ),
)]
pub async fn login(
    State(state): State<AppState>,
    Origin(origin): Origin,
    session: Session,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<Me>> {
    let user = accounts::log_in(
        &state.db,
        &state.login_throttle,
        &request.email,
        request.password,
        origin.client_address,
    )
    .await?;
    sessions::sign_in(&session, user.id).await?;
    Ok(Json(me_for(&state, &user).await?))
}

/// Ends this session, if there is one: without a session cookie there is
/// nothing to end, and the answer is the same.
#[utoipa::path(
    post, path = "/auth/logout", operation_id = "logout", tag = "auth",
    responses(
        (status = 204, description = "Signed out"),
        (status = 403, description = "A cookie-authenticated request from another site", body = ErrorBody),
    ),
    security(("session" = []), ()),
)]
pub async fn logout(session: Session) -> Result<StatusCode> {
    sessions::sign_out(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the user, this one included.
#[utoipa::path(
    post, path = "/auth/logout-all", operation_id = "logout_everywhere", tag = "auth",
    responses((status = 204, description = "Signed out everywhere"), ApiErrors),
    security(("session" = [])),
)]
pub async fn logout_everywhere(State(state): State<AppState>, signed_in: SignedIn) -> Result<StatusCode> {
    sessions::end_user_sessions(&state.db, signed_in.user.id).await?;
    sessions::sign_out(&signed_in.session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes the password and ends the user's other sessions.
#[utoipa::path(
    post, path = "/auth/password", operation_id = "change_password", tag = "auth",
    request_body = ChangePasswordRequest,
    responses((status = 204, description = "Changed"), ApiErrors, BodyErrors),
    security(("session" = [])),
)]
pub async fn change_password(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiJson(request): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode> {
    let user_id = signed_in.user.id;
    accounts::change_password(&state.db, user_id, request.current_password, request.new_password).await?;
    sessions::end_other_sessions(&state.db, &signed_in.session, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user and their organizations.
#[utoipa::path(
    get, path = "/me", operation_id = "me", tag = "auth",
    responses((status = 200, body = Me), ApiErrors),
    security(("session" = [])),
)]
pub async fn me(State(state): State<AppState>, signed_in: SignedIn) -> Result<Json<Me>> {
    Ok(Json(me_for(&state, &signed_in.user).await?))
}
