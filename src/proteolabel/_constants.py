"""Every AnnData key and output file name proteolabel uses, in one place."""

from __future__ import annotations

# --- AnnData layers -------------------------------------------------------------------------
#: Linear-scale intensities as read (NaN = missing), samples x proteins.
LAYER_INTENSITY = "intensity"
#: Number of values (peptides, precursors, fragments) summed into each cell by a long-table reader.
LAYER_N_VALUES = "n_values"

# --- obs (samples) --------------------------------------------------------------------------
OBS_CLUSTER = "cluster"
OBS_NOISE = "is_noise"
OBS_TUNE = "is_tune"
OBS_LABEL = "label"
OBS_EXCLUDED = "excluded"
OBS_EXCLUDED_REASON = "excluded_reason"
OBS_N_OBSERVED = "n_observed_proteins"

# --- var (proteins) -------------------------------------------------------------------------
VAR_MAX_LOG2 = "max_log2"
VAR_MEAN_INTENSITY = "mean_intensity"
VAR_N_OBSERVED = "n_observed_samples"

# --- obsm / uns -----------------------------------------------------------------------------
OBSM_LATENT = "X_vae"
UNS_READ = "read"
UNS_PREPROCESS = "preprocess"
UNS_VAE = "vae"
UNS_EPS_SEARCH = "eps_search"
UNS_CLUSTER = "cluster"

#: Tokens that mean "missing" in every reader (case-insensitive, after stripping spaces).
MISSING_TOKENS: tuple[str, ...] = (
    "", "0", "0.0", "nan", "na", "n/a", "#n/a", "null", "none", "filtered", "#num!", "#value!",
)
