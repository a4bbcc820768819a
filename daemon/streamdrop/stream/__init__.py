"""Stream's wire protocol and the policies around it: the only code that talks to Stream."""
