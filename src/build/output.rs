//! What a build prints, in docker's classic builder's words: `Step N/M : INSTRUCTION`,
//! ` ---> Using cache`, ` ---> Running in ID`, ` ---> ID`, `Successfully built ID`; with
//! `-q` nothing but the final ID.

use std::io::Write;

use crate::fsutil::short_id;

pub struct Output {
    pub quiet: bool,
}

impl Output {
    fn line(&self, s: &str) {
        if !self.quiet {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{s}");
            let _ = out.flush();
        }
    }

    pub fn step(&self, n: usize, total: usize, text: &str) {
        self.line(&format!("Step {n}/{total} : {text}"));
    }

    pub fn cached(&self) {
        self.line(" ---> Using cache");
    }

    pub fn image(&self, id: &str) {
        self.line(&format!(" ---> {}", short_id(id)));
    }

    pub fn running_in(&self, container: &str) {
        self.line(&format!(" ---> Running in {}", short_id(container)));
    }

    pub fn removed(&self, container: &str) {
        self.line(&format!(
            "Removing intermediate container {}",
            short_id(container)
        ));
    }

    pub fn note(&self, s: &str) {
        self.line(s);
    }

    pub fn built(&self, id: &str, tags: &[String]) {
        if self.quiet {
            println!("{id}");
            return;
        }
        self.line(&format!("Successfully built {}", short_id(id)));
        for t in tags {
            self.line(&format!(
                "Successfully tagged {}",
                crate::image::lookup::familiar(t)
            ));
        }
    }
}
