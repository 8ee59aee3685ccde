"""Three-step estimation (Vermunt 2010; Bakk, Tekle & Vermunt 2013): relate the classes of a
finished latent class model to household features (a multinomial logit of class membership)
and to distal outcomes (class means or shares), without moving the classes, correcting for
the classification error of modal assignment — as LatentGOLD's Step3 and StepMix do.

Step 1 is the fitted LCA (its posteriors r_ik); step 2 assigns each household to its modal
class and measures the classification error D[c, s] = P(assigned s | true c) =
Σ_i w_i r_ic [s_i = s] / Σ_i w_i r_ic; step 3:

* BCH (Bolck, Croon & Hagenaars 2004; Vermunt 2010): each household gets weights
  d_i = (row s_i of D⁻¹) over the classes (some negative) and the step-3 model is fitted to
  them directly — a weighted multinomial logit, or weighted class means of an outcome. Standard
  errors: the sandwich H⁻¹ (Σ w g g') H⁻¹ of that weighted fit.
* ML (Vermunt 2010): a latent class model with one indicator, the assigned class, whose
  emission probabilities are D (fixed), and the covariates' logit (or the outcome's class
  distribution) as the structural model; EM to convergence. Standard errors: the observed
  information of that likelihood (Louis' formula, D held fixed).

Both agree with StepMix 3.0's `n_steps=3, correction="BCH"|"ML"` (tests/expected/
three_step_stepmix.json).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOG_FLOOR = 1e-15  # StepMix clips D to [1e-15, 1 − 1e-15] before its log


def modal_onehot(post: np.ndarray) -> np.ndarray:
    out = np.zeros_like(post)
    out[np.arange(len(post)), post.argmax(axis=1)] = 1.0
    return out


def classification_error(post: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """D[c, s] = P(modal class s | true class c) (rows sum to one)."""
    w = np.ones(len(post)) if w is None else w
    Rw = post * w[:, None]
    return (Rw.T @ modal_onehot(post)) / Rw.sum(axis=0)[:, None]


def softmax_rows(eta: np.ndarray) -> np.ndarray:
    e = np.exp(eta - eta.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class LogitFit:
    beta: np.ndarray  # terms × K, reference column (0) zero
    cov: np.ndarray  # covariance of the free coefficients: class-major (class 2 terms, …)
    loglik: float
    iterations: int
    converged: bool


def _newton_logit(
    Z: np.ndarray, A: np.ndarray, w: np.ndarray, beta: np.ndarray, max_iter: int, tol: float
) -> tuple[np.ndarray, int, bool]:
    """Maximises Σ_i w_i Σ_k A_ik log softmax(z_i β)_k over β (column 0 fixed at zero) by Newton
    steps; A may hold negative entries (BCH weights) as long as each row sums to one."""
    K = A.shape[1]
    q = Z.shape[1]
    for it in range(1, max_iter + 1):
        P = softmax_rows(Z @ beta)
        mass = A.sum(axis=1)
        grad = np.concatenate([Z.T @ (w * (A[:, c] - mass * P[:, c])) for c in range(1, K)])
        H = _logit_hessian(Z, w * mass, P)
        step = np.linalg.solve(H + 1e-12 * np.eye(len(H)), grad)
        for c in range(1, K):
            beta[:, c] += step[(c - 1) * q : c * q]
        if np.max(np.abs(step)) < tol:
            return beta, it, True
    return beta, max_iter, False


def _logit_hessian(Z: np.ndarray, v: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Σ_i v_i z_i z_i' ⊗ (diag π_i − π_i π_i') over the free classes 1..K−1."""
    K, q = P.shape[1], Z.shape[1]
    H = np.zeros(((K - 1) * q, (K - 1) * q))
    for a in range(1, K):
        for b in range(1, K):
            weight = v * P[:, a] * ((a == b) - P[:, b])
            H[(a - 1) * q : a * q, (b - 1) * q : b * q] = (Z * weight[:, None]).T @ Z
    return H


def bch_covariates(
    post: np.ndarray, Z: np.ndarray, w: np.ndarray | None = None, max_iter: int = 200
) -> LogitFit:
    """BCH: the weighted multinomial logit of class on Z (intercept column included)."""
    w = np.ones(len(post)) if w is None else w
    D = classification_error(post, w)
    A = modal_onehot(post) @ np.linalg.pinv(D)
    beta = np.zeros((Z.shape[1], post.shape[1]))
    beta, it, ok = _newton_logit(Z, A, w, beta, max_iter, 1e-12)
    P = softmax_rows(Z @ beta)
    K = post.shape[1]
    H = _logit_hessian(Z, w * A.sum(axis=1), P)
    G = np.concatenate(
        [Z * (A[:, [c]] - A.sum(axis=1, keepdims=True) * P[:, [c]]) for c in range(1, K)], axis=1
    )
    meat = (G * w[:, None]).T @ G
    Hinv = np.linalg.pinv(H)
    ll = float(w @ (A * np.log(np.clip(P, LOG_FLOOR, None))).sum(axis=1))
    return LogitFit(beta, Hinv @ meat @ Hinv, ll, it, ok)


def ml_covariates(
    post: np.ndarray,
    Z: np.ndarray,
    w: np.ndarray | None = None,
    max_iter: int = 5000,
    tol: float = 1e-10,
) -> LogitFit:
    """ML: EM on the one-indicator model P(s_i) = Σ_c π_c(z_i) D[c, s_i], D fixed."""
    w = np.ones(len(post)) if w is None else w
    D = classification_error(post, w)
    log_e = modal_onehot(post) @ np.log(np.clip(D, LOG_FLOOR, 1 - LOG_FLOOR)).T  # n × K
    K = post.shape[1]
    beta = np.zeros((Z.shape[1], K))
    N = w.sum()
    prev = -np.inf
    converged = False
    done = 0
    for it in range(1, max_iter + 1):
        done = it
        joint = log_e + np.log(softmax_rows(Z @ beta))
        m = joint.max(axis=1, keepdims=True)
        ll = float(w @ (np.log(np.exp(joint - m).sum(axis=1)) + m[:, 0]))
        R = softmax_rows(joint)
        if abs(ll - prev) / N < tol:
            converged = True
            break
        prev = ll
        beta, _, _ = _newton_logit(Z, R, w, beta, 1, 0.0)
    P = softmax_rows(Z @ beta)
    joint = log_e + np.log(P)
    R = softmax_rows(joint)
    # Louis: complete-data information minus the posterior covariance of the score
    info = _logit_hessian(Z, w, P) - _logit_hessian(Z, w, R)
    return LogitFit(beta, np.linalg.pinv(info), ll, done, converged)


@dataclass
class DistalFit:
    means: np.ndarray  # K (numeric: class means; binary: class shares of 1)
    se: np.ndarray
    loglik: float


def bch_distal(post: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> DistalFit:
    """BCH: class means of y with the BCH weights; SE from the weighted residuals (sandwich)."""
    w = np.ones(len(post)) if w is None else w
    D = classification_error(post, w)
    A = modal_onehot(post) @ np.linalg.pinv(D) * w[:, None]
    n_k = A.sum(axis=0)
    means = (A.T @ y) / n_k
    resid = y[:, None] - means[None, :]
    se = np.sqrt(((A * resid) ** 2).sum(axis=0) / n_k**2)
    return DistalFit(means, se, float("nan"))


def ml_distal(
    post: np.ndarray,
    y: np.ndarray,
    kind: str = "numeric",
    w: np.ndarray | None = None,
    max_iter: int = 5000,
    tol: float = 1e-10,
) -> DistalFit:
    """ML: EM on P(s_i, y_i) = Σ_c π_c D[c, s_i] f(y_i | c), D fixed; f normal with unit
    variance (StepMix's gaussian_unit) for a numeric outcome, Bernoulli for a binary one.
    Standard errors from the observed information of the class means (Louis)."""
    w = np.ones(len(post)) if w is None else w
    D = classification_error(post, w)
    log_e = modal_onehot(post) @ np.log(np.clip(D, LOG_FLOOR, 1 - LOG_FLOOR)).T
    K = post.shape[1]
    N = w.sum()
    pi = np.full(K, 1.0 / K)
    mu = np.full(K, float(w @ y / N)) + np.linspace(-0.1, 0.1, K)
    prev = -np.inf
    ll = -np.inf
    for _ in range(max_iter):
        joint = log_e + np.log(pi) + _log_f(y, mu, kind)
        m = joint.max(axis=1, keepdims=True)
        ll = float(w @ (np.log(np.exp(joint - m).sum(axis=1)) + m[:, 0]))
        R = softmax_rows(joint)
        if abs(ll - prev) / N < tol:
            break
        prev = ll
        Rw = R * w[:, None]
        pi = Rw.sum(axis=0) / N
        mu = (Rw.T @ y) / Rw.sum(axis=0)
        if kind == "binary":
            mu = np.clip(mu, 1e-12, 1 - 1e-12)
    R = softmax_rows(log_e + np.log(pi) + _log_f(y, mu, kind))
    # Louis for μ alone: complete information Σ w r_ik / var_k minus the score's posterior variance
    var = np.ones(K) if kind == "numeric" else mu * (1 - mu)
    g = (y[:, None] - mu[None, :]) / var[None, :]  # complete score of μ_k for class k
    Rw = R * w[:, None]
    complete = np.diag(Rw.sum(axis=0) / var)
    S = R * g
    cov_score = np.diag((Rw * g**2).sum(axis=0)) - (S * w[:, None]).T @ S
    info = complete - cov_score
    se = np.sqrt(np.clip(np.diag(np.linalg.pinv(info)), 0, None))
    return DistalFit(mu, se, ll)


def _log_f(y: np.ndarray, mu: np.ndarray, kind: str) -> np.ndarray:
    if kind == "binary":
        return y[:, None] * np.log(mu)[None, :] + (1 - y[:, None]) * np.log1p(-mu)[None, :]
    return -0.5 * (y[:, None] - mu[None, :]) ** 2 - 0.5 * np.log(2 * np.pi)
