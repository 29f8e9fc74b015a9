// Asynchronous reset input (a push button, a PLL lock) -> reset released synchronously after 3 clocks.
module shell_reset_sync (
  input  logic clk,
  input  logic arst_n,
  output logic rst_n
);
  logic [2:0] sync;
  always_ff @(posedge clk or negedge arst_n) begin
    if (!arst_n) sync <= '0;
    else sync <= {sync[1:0], 1'b1};
  end
  assign rst_n = sync[2];
endmodule
