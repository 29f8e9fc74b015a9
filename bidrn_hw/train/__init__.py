"""Training for bidrn-hw: synthetic whole-body data, Hand4Whole's losses, mesh metrics, the QAT loop,
checkpoints and loaders for the AGORA and EHF layouts."""
