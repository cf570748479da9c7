//! Logging through `log` or `defmt`, whichever feature is on (neither: nothing is logged).
//!
//! The format strings use only `{}` with arguments that implement both `Display` and
//! `defmt::Format`, so one call site serves both back ends.

macro_rules! log_at {
    ($level:ident, $fmt:literal $(, $arg:expr)* $(,)?) => {{
        #[cfg(feature = "log")]
        ::log::$level!($fmt $(, $arg)*);
        #[cfg(feature = "defmt")]
        ::defmt::$level!($fmt $(, $arg)*);
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        {
            $( let _ = &$arg; )*
        }
    }};
}

macro_rules! log_info {
    ($($t:tt)*) => { $crate::fmt::log_at!(info, $($t)*) };
}

macro_rules! log_warn {
    ($($t:tt)*) => { $crate::fmt::log_at!(warn, $($t)*) };
}

macro_rules! log_debug {
    ($($t:tt)*) => { $crate::fmt::log_at!(debug, $($t)*) };
}

pub(crate) use {log_at, log_debug, log_info, log_warn};
