/*
 * diag.c - register access and raw command lists for conformance tests
 * (sampan.h, "diagnostics").
 */
#include <inttypes.h>

#include "internal.h"
#include "isa.h"

#define DIAG_DEFAULT_TIMEOUT_MS 10000

/* Fails unless @dev can take a raw access now. */
static int diag_check(struct sampan_device *dev, const char *fn)
{
	if (!dev)
		return drv_error(SAMPAN_ERROR_INVALID, "%s: NULL device", fn);
	if (dev->inflight)
		return drv_error(SAMPAN_ERROR_BUSY, "%s: device '%s' has a GEMM in flight", fn,
		                 dev->info.name);
	return SAMPAN_OK;
}

int sampan_reg_read(struct sampan_device *dev, uint32_t off, uint32_t *val)
{
	uint32_t v;
	int err = diag_check(dev, "sampan_reg_read");

	if (err < 0)
		return err;
	if (!val || off % 4)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "sampan_reg_read: NULL value or unaligned offset 0x%" PRIx32, off);
	if ((err = dev->ops->reg_read(dev->ctx, off, &v)) < 0)
		return err;
	*val = v;
	return SAMPAN_OK;
}

int sampan_reg_write(struct sampan_device *dev, uint32_t off, uint32_t val)
{
	int err = diag_check(dev, "sampan_reg_write");

	if (err < 0)
		return err;
	if (off % 4)
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "sampan_reg_write: unaligned offset 0x%" PRIx32, off);
	return dev->ops->reg_write(dev->ctx, off, val);
}

int sampan_run_commands(struct sampan_device *dev, uint64_t cmd_addr, uint32_t count,
                        int timeout_ms, uint32_t *status, uint32_t *err_index)
{
	const struct backend_ops *ops;
	uint64_t bytes = (uint64_t)count * ISA_CMD_BYTES;
	uint32_t ctrl, isr, st, idx;
	int err = diag_check(dev, "sampan_run_commands");

	if (err < 0)
		return err;
	if (!status || !err_index)
		return drv_error(SAMPAN_ERROR_INVALID, "sampan_run_commands: NULL argument");
	if (cmd_addr < dev->mem_base || cmd_addr - dev->mem_base > dev->mem_size ||
	    bytes > dev->mem_size - (cmd_addr - dev->mem_base))
		return drv_error(SAMPAN_ERROR_INVALID,
		                 "sampan_run_commands: %" PRIu32 " commands at 0x%" PRIx64
		                 " lie outside card memory [0x%" PRIx64 ", +%" PRIu64 ")",
		                 count, cmd_addr, dev->mem_base, dev->mem_size);
	ops = dev->ops;
	if ((err = ops->reg_read(dev->ctx, ISA_REG_CTRL, &ctrl)) < 0)
		return err;
	if (!(ctrl & ISA_CTRL_IDLE))
		return drv_error(SAMPAN_ERROR_BUSY,
		                 "device '%s': the core is busy (CTRL 0x%02" PRIx32 ")",
		                 dev->info.name, ctrl);
	/* Same start sequence as a GEMM: a stale done interrupt acknowledged,
	 * arguments, interrupt enables, ap_start. */
	if ((err = ops->reg_read(dev->ctx, ISA_REG_ISR, &isr)) < 0 ||
	    ((isr & ISA_IRQ_DONE) &&
	     (err = ops->reg_write(dev->ctx, ISA_REG_ISR, ISA_IRQ_DONE)) < 0) ||
	    (err = ops->reg_write(dev->ctx, ISA_REG_CMD_ADDR_LO, (uint32_t)cmd_addr)) < 0 ||
	    (err = ops->reg_write(dev->ctx, ISA_REG_CMD_ADDR_HI, (uint32_t)(cmd_addr >> 32))) < 0 ||
	    (err = ops->reg_write(dev->ctx, ISA_REG_CMD_COUNT, count)) < 0 ||
	    (err = ops->reg_write(dev->ctx, ISA_REG_GIE, 1)) < 0 ||
	    (err = ops->reg_write(dev->ctx, ISA_REG_IER, ISA_IRQ_DONE)) < 0 ||
	    (err = ops->reg_write(dev->ctx, ISA_REG_CTRL, ISA_CTRL_START)) < 0)
		return err;
	err = ops->wait_done(dev->ctx, UINT64_MAX,
	                     timeout_ms > 0 ? timeout_ms : DIAG_DEFAULT_TIMEOUT_MS);
	if (err < 0)
		return drv_error(err, "device '%s': command list: %s", dev->info.name,
		                 sampan_last_error());
	if ((err = ops->reg_read(dev->ctx, ISA_REG_STATUS, &st)) < 0 ||
	    (err = ops->reg_read(dev->ctx, ISA_REG_ERR_INDEX, &idx)) < 0)
		return err;
	*status = st & 0xFFu;
	*err_index = idx;
	return SAMPAN_OK;
}
