//! The settings of `malha serve` and `malha up`: the kit's shared
//! [`ServeConfig`] plus the flags each registered service declares, each under
//! its own heading in `--help`, parsed into [`ServeConfig::services`].

use std::ops::{Deref, DerefMut};

use clap::{ArgMatches, Args, Command, FromArgMatches};

use crate::targets::TARGETS;
use malha_kit::config::ServeConfig;

/// [`ServeConfig`] with every registered service's own settings filled in.
#[derive(Debug, Clone)]
pub struct Settings(pub ServeConfig);

impl Args for Settings {
    fn augment_args(command: Command) -> Command {
        let mut command = ServeConfig::augment_args(command);
        for target in TARGETS {
            command = command.next_help_heading(format!("Settings of {}", target.name));
            command = target.settings.augment(command);
        }
        command.next_help_heading(None::<&str>)
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}

impl FromArgMatches for Settings {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut config = ServeConfig::from_arg_matches(matches)?;
        for target in TARGETS {
            target.settings.parse_into(matches, &mut config.services)?;
        }
        Ok(Self(config))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Deref for Settings {
    type Target = ServeConfig;

    fn deref(&self) -> &ServeConfig {
        &self.0
    }
}

impl DerefMut for Settings {
    fn deref_mut(&mut self) -> &mut ServeConfig {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::Cli;

    #[test]
    fn each_service_s_flags_parse_into_its_settings() {
        let cli = Cli::try_parse_from([
            "malha",
            "serve",
            "--payments-deadline-ms",
            "1234",
            "--pix-merchant-city",
            "RECIFE",
        ])
        .unwrap();
        let crate::cli::Command::Serve(args) = cli.command else {
            panic!("parsed as serve");
        };
        let orders = args.config.services.get::<malha_orders::OrdersConfig>();
        assert_eq!(orders.payments_deadline_ms, 1234);
        let payments = args.config.services.get::<malha_payments::PaymentsConfig>();
        assert_eq!(payments.pix_merchant_city, "RECIFE");
    }

    #[test]
    fn serve_help_lists_every_service_s_settings_with_their_env() {
        let mut command = <Cli as clap::CommandFactory>::command();
        let help = command
            .find_subcommand_mut("serve")
            .unwrap()
            .render_long_help()
            .to_string();
        for (heading, env) in [
            ("Settings of orders", "MALHA_PAYMENTS_URL"),
            ("Settings of payments", "MALHA_PIX_KEY"),
        ] {
            assert!(help.contains(heading), "{heading} in:\n{help}");
            assert!(help.contains(env), "{env} in:\n{help}");
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        // Catches two services declaring the same argument id.
        <Cli as clap::CommandFactory>::command().debug_assert();
    }
}
