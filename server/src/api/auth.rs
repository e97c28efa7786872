//! `/api/v1/auth/*` and `/api/v1/me`: sign-up, sign-in, sign-out, password.

use app::{
    accounts::Me,
    error::{AppError, Result},
    services::{accounts, orgs, sessions},
    state::AppState,
};
use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use tower_sessions::Session;

use super::extract::{ApiJson, ClientAddress, SignedIn};

#[derive(Deserialize)]
pub struct SignupRequest {
    email: String,
    password: String,
    organization_name: Option<String>,
    /// An invitation secret: join that organization instead of creating one.
    invitation: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginRequest {
    email: String,
    password: String,
}

#[derive(Deserialize)]
pub struct ChangePasswordRequest {
    current_password: String,
    new_password: String,
}

fn session_error(err: tower_sessions::session::Error) -> AppError {
    AppError::Internal(format!("session store: {err}"))
}

/// Starts a fresh session for `user`: a new id, so a session id planted
/// before sign-in is worthless after it.
async fn start_session(session: &Session, user: &entity::user::Model) -> Result<()> {
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(sessions::USER_ID_KEY, user.id)
        .await
        .map_err(session_error)?;
    Ok(())
}

async fn me_for(state: &AppState, user: &entity::user::Model) -> Result<Me> {
    Ok(Me {
        user: accounts::user_info(user),
        organizations: orgs::list_for_user(&state.db, user.id).await?,
    })
}

/// `POST /api/v1/auth/signup`
pub async fn signup(
    State(state): State<AppState>,
    session: Session,
    ApiJson(request): ApiJson<SignupRequest>,
) -> Result<(StatusCode, Json<Me>)> {
    let user = match request.invitation.as_deref() {
        Some(token) => {
            let invitation = orgs::find_open_invitation(&state.db, token).await?;
            let email = accounts::normalize_email(&request.email)?;
            if invitation.email != email {
                return Err(AppError::Forbidden(
                    "this invitation was sent to another email address",
                ));
            }
            let user = accounts::sign_up_invited(&state.db, &email, request.password).await?;
            orgs::accept_invitation(&state.db, token, &user).await?;
            user
        }
        // With sign-up closed, the installation's first account can still be
        // created: otherwise nobody could ever invite anyone.
        None if !state.accounts.open_signup && accounts::has_users(&state.db).await? => {
            return Err(AppError::Forbidden(
                "sign-up is by invitation only on this installation",
            ));
        }
        None => {
            accounts::sign_up(
                &state.db,
                accounts::SignUp {
                    email: request.email,
                    password: request.password,
                    organization_name: request.organization_name,
                },
            )
            .await?
        }
    };
    start_session(&session, &user).await?;
    Ok((StatusCode::CREATED, Json(me_for(&state, &user).await?)))
}

/// `POST /api/v1/auth/login`
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    session: Session,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<Me>> {
    let email = request.email.trim().to_lowercase();
    if let Err(wait) = state.login_throttle.check(&email, address) {
        return Err(AppError::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    let user = match accounts::authenticate(&state.db, &email, request.password).await {
        Ok(user) => user,
        Err(err @ AppError::Unauthenticated(_)) => {
            state.login_throttle.record_failure(&email, address);
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    state.login_throttle.record_success(&email);
    start_session(&session, &user).await?;
    Ok(Json(me_for(&state, &user).await?))
}

/// `POST /api/v1/auth/logout`: ends this session.
pub async fn logout(session: Session) -> Result<StatusCode> {
    session.flush().await.map_err(session_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/auth/logout-all`: ends every session of the user, this one included.
pub async fn logout_everywhere(State(state): State<AppState>, signed_in: SignedIn) -> Result<StatusCode> {
    sessions::end_user_sessions(&state.db, signed_in.user.id).await?;
    signed_in.session.flush().await.map_err(session_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/auth/password`: changes the password and ends the user's other sessions.
pub async fn change_password(
    State(state): State<AppState>,
    signed_in: SignedIn,
    ApiJson(request): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode> {
    let user_id = signed_in.user.id;
    accounts::change_password(&state.db, user_id, request.current_password, request.new_password).await?;
    // Cycling deletes this session's stored row and keeps its data in memory;
    // the new row is written when the response is sent, after every row of
    // the user's other sessions has been deleted here.
    signed_in.session.cycle_id().await.map_err(session_error)?;
    let ended = sessions::end_user_sessions(&state.db, user_id).await?;
    tracing::info!(%user_id, ended, "password changed; other sessions ended");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/me`
pub async fn me(State(state): State<AppState>, signed_in: SignedIn) -> Result<Json<Me>> {
    Ok(Json(me_for(&state, &signed_in.user).await?))
}
