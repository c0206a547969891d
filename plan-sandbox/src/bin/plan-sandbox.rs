//! The launcher: started by a [`Sandbox`](plan_sandbox::Sandbox) run with the sandbox's spec,
//! it applies the sandbox to itself and becomes the command. Not a program to run by hand.
#![forbid(unsafe_code)]

fn main() {
    plan_sandbox::launch_if_asked();
    eprintln!(
        "plan-sandbox is the launcher of plan_sandbox::Sandbox runs (`Launcher::path`), started \
         by them with the sandbox's spec; it does nothing on its own"
    );
    std::process::exit(2);
}
